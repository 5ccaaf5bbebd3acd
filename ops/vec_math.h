// Vectorised row primitives for the softmax family (softmax, log_softmax, cross-entropy): Eigen's
// packet exp (AVX2/AVX-512, ~1 ulp) instead of scalar std::exp, which dominated these ops.
// Each row is processed by one thread, so results do not depend on the thread count.
#pragma once
#include <Eigen/Core>
#include <cstdint>

namespace lory::ops::vec {

template <typename T>
using Row = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstRow = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

template <typename T>
T row_max(const T* x, int64_t n) {
  return ConstRow<T>(x, n).maxCoeff();
}

// out = exp(x - shift); returns Σ out (accumulated in double).
template <typename T>
double exp_shifted(const T* x, T shift, T* out, int64_t n) {
  Row<T> o(out, n);
  o = (ConstRow<T>(x, n) - shift).exp();
  return o.template cast<double>().sum();
}

// Σ exp(x - shift) without storing the terms (accumulated in double).
template <typename T>
double sum_exp_shifted(const T* x, T shift, int64_t n) {
  return (ConstRow<T>(x, n) - shift).exp().template cast<double>().sum();
}

// out = exp((x - shift) - log_sum) · scale
template <typename T>
void scaled_exp(const T* x, T shift, T log_sum, T scale, T* out, int64_t n) {
  Row<T>(out, n) = ((ConstRow<T>(x, n) - shift) - log_sum).exp() * scale;
}

}  // namespace lory::ops::vec
