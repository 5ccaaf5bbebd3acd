// Vectorised row primitives for the softmax family (softmax, log_softmax, cross-entropy) and the
// sigmoid of silu/swiglu/lory_ffn: Eigen's packet exp (AVX2/AVX-512, ~1 ulp) instead of scalar
// std::exp, which dominated these ops. Element-wise or one row per thread, so results do not
// depend on the thread count.
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

// s = sigmoid(x) = 1 / (1 + e^-x), element-wise. (For x < -88 in f32, e^-x is clamped by Eigen's
// exp to ~2^127 instead of inf: s is then ~1e-38 instead of 0.)
template <typename T>
void sigmoid(const T* x, T* s, int64_t n) {
  Row<T>(s, n) = (T(1) + (-ConstRow<T>(x, n)).exp()).inverse();
}

}  // namespace lory::ops::vec
