// silu and gelu (exact erf form).
//   silu: y = x s, s = sigmoid(x) = 1 / (1 + e^-x), s' = s (1 - s)
//         dy/dx = s + x s (1 - s) = s (1 + x (1 - s))
//   gelu: y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2,
//         Phi'(x) = phi(x) = e^(-x^2 / 2) / sqrt(2 pi)
//         dy/dx = Phi(x) + x phi(x)
// Both backward passes recompute from the saved x (cheaper in memory than saving s or Phi).
#include "ops/activation.h"

#include <cmath>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/activation.h"

namespace lory::ops {
namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// e^-x overflows to inf for x < -88 (f32): then s = 1 / inf = 0, which is the right limit.
template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <typename T>
T silu_value(T x) {
  return x * sigmoid(x);
}

template <typename T>
T silu_grad(T x) {
  T s = sigmoid(x);
  return s * (T(1) + x * (T(1) - s));
}

template <typename T>
T gelu_value(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(kInvSqrt2)));
}

template <typename T>
T gelu_grad(T x) {
  T cdf = T(0.5) * (T(1) + std::erf(x * T(kInvSqrt2)));
  return cdf + x * T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
}

// y = value(x), or with dy given: dx = dy * grad(x).
Tensor apply(const char* op, const Tensor& x, const Tensor& dy, bool is_silu) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_float(x.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    const T* pd = dy.defined() ? dy.data<T>() : nullptr;
    T* po = out.data<T>();
    parallel_for(x.numel(), 1 << 13, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        if (pd)
          po[i] = pd[i] * (is_silu ? silu_grad(px[i]) : gelu_grad(px[i]));
        else
          po[i] = is_silu ? silu_value(px[i]) : gelu_value(px[i]);
      }
    });
  });
  return out;
}

Tensor activation(const char* op, const Tensor& x, bool is_silu) {
  check_floating(x, op, "x");
  Tensor y;
  if (x.device() == Device::cuda) {
    y = Tensor::empty(x.shape(), x.dtype(), x.device());
    cuda::activation_forward(x.dtype(), is_silu, x.raw_data(), y.raw_data(), x.numel());
  } else {
    y = apply(op, x, Tensor(), is_silu);
  }
  Tensor saved = x.detach();
  return record(op, y, {x}, [op, saved, is_silu](const Tensor& dy, const std::vector<bool>&) {
    if (dy.device() == Device::cuda) {
      Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
      cuda::activation_backward(dy.dtype(), is_silu, saved.raw_data(), dy.raw_data(),
                                dx.raw_data(), dy.numel());
      return std::vector<Tensor>{dx};
    }
    return std::vector<Tensor>{apply(op, saved, dy, is_silu)};
  });
}

}  // namespace

Tensor silu(const Tensor& x) {
  return activation("silu", x, true);
}
Tensor gelu(const Tensor& x) {
  return activation("gelu", x, false);
}

}  // namespace lory::ops
