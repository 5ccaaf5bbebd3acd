// Vectorised row primitives for the softmax family (softmax, log_softmax, cross-entropy) and the
// sigmoid of silu/swiglu/lory_ffn: Eigen's packet exp (AVX2/AVX-512, ~1 ulp) instead of scalar
// std::exp, which dominated these ops. Element-wise or one row per thread, so results do not
// depend on the thread count.
#pragma once
#include <Eigen/Core>
#include <algorithm>
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

// Σ exp(x - shift), and out = exp(x - shift) when out is not null. Every element goes through
// Eigen's packet exp (the n mod W tail through one padded packet, so all get the same function);
// the terms are summed in T lanes over blocks of 64 packets and the block totals in double. The
// order depends on n only, never on the address or the thread count. (An Eigen expression that
// casts the exp to double before summing falls back to scalar std::exp: ~5x slower.)
template <typename T>
double exp_sum(const T* x, T shift, T* out, int64_t n) {
  namespace pk = Eigen::internal;
  using P = typename pk::packet_traits<T>::type;
  constexpr int64_t W = pk::packet_traits<T>::size, kBlock = 64 * W;
  const P s = pk::pset1<P>(shift);
  const int64_t whole = n / W * W;
  double total = 0;
  for (int64_t j = 0; j < whole;) {
    const int64_t end = std::min(whole, j + kBlock);
    P acc = pk::pset1<P>(T(0));
    for (; j < end; j += W) {
      const P e = pk::pexp(pk::psub(pk::ploadu<P>(x + j), s));
      if (out) pk::pstoreu(out + j, e);
      acc = pk::padd(acc, e);
    }
    total += static_cast<double>(pk::predux(acc));
  }
  if (whole < n) {
    T buf[W];
    for (int64_t t = 0; t < W; ++t) buf[t] = whole + t < n ? x[whole + t] : shift;
    pk::pstoreu(buf, pk::pexp(pk::psub(pk::ploadu<P>(buf), s)));
    for (int64_t t = 0; whole + t < n; ++t) {
      if (out) out[whole + t] = buf[t];
      total += static_cast<double>(buf[t]);
    }
  }
  return total;
}

// Σ exp(x - shift) without storing the terms.
template <typename T>
double sum_exp_shifted(const T* x, T shift, int64_t n) {
  return exp_sum(x, shift, static_cast<T*>(nullptr), n);
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
