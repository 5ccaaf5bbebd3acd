// neg, exp, log, sqrt, square: one element-wise map each, with its derivative.
//   neg:    y = -x       dx = -dy
//   exp:    y = e^x      dx = dy e^x = dy y        (saves y)
//   log:    y = ln x     dx = dy / x               (saves x)
//   sqrt:   y = x^(1/2)  dx = dy / (2 x^(1/2)) = dy / (2 y)   (saves y)
//   square: y = x^2      dx = 2 x dy               (saves x)
#include "ops/unary.h"

#include <cmath>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/unary.h"

namespace lory::ops {
namespace {

enum class UnaryOp { neg, exp, log, sqrt, square };

const char* op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg:
      return "neg";
    case UnaryOp::exp:
      return "exp";
    case UnaryOp::log:
      return "log";
    case UnaryOp::sqrt:
      return "sqrt";
    case UnaryOp::square:
      return "square";
  }
  return "?";
}

template <typename T, typename F>
void map_kernel(const T* x, T* y, int64_t n, F f) {
  parallel_for(n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = f(x[i]);
  });
}

template <typename T, typename F>
void zip_kernel(const T* u, const T* v, T* y, int64_t n, F f) {
  parallel_for(n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = f(u[i], v[i]);
  });
}

Tensor forward(UnaryOp op, const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_float(x.dtype(), op_name(op), [&](auto zero) {
    using T = decltype(zero);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t n = x.numel();
    switch (op) {
      case UnaryOp::neg:
        map_kernel(px, py, n, [](T v) { return -v; });
        break;
      case UnaryOp::exp:
        map_kernel(px, py, n, [](T v) { return std::exp(v); });
        break;
      case UnaryOp::log:
        map_kernel(px, py, n, [](T v) { return std::log(v); });
        break;
      case UnaryOp::sqrt:
        map_kernel(px, py, n, [](T v) { return std::sqrt(v); });
        break;
      case UnaryOp::square:
        map_kernel(px, py, n, [](T v) { return v * v; });
        break;
    }
  });
  return y;
}

// dx from dy and the saved tensor s (y for exp and sqrt, x for log and square, none for neg).
Tensor backward(UnaryOp op, const Tensor& dy, const Tensor& s) {
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  dispatch_float(dy.dtype(), op_name(op), [&](auto zero) {
    using T = decltype(zero);
    const T* pd = dy.data<T>();
    const T* ps = op == UnaryOp::neg ? nullptr : s.data<T>();
    T* px = dx.data<T>();
    int64_t n = dy.numel();
    switch (op) {
      case UnaryOp::neg:
        map_kernel(pd, px, n, [](T g) { return -g; });
        break;
      case UnaryOp::exp:
        zip_kernel(pd, ps, px, n, [](T g, T y) { return g * y; });
        break;
      case UnaryOp::log:
        zip_kernel(pd, ps, px, n, [](T g, T x) { return g / x; });
        break;
      case UnaryOp::sqrt:
        zip_kernel(pd, ps, px, n, [](T g, T y) { return g / (T(2) * y); });
        break;
      case UnaryOp::square:
        zip_kernel(pd, ps, px, n, [](T g, T x) { return T(2) * x * g; });
        break;
    }
  });
  return dx;
}

cuda::Unary cuda_op(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg:
      return cuda::Unary::neg;
    case UnaryOp::exp:
      return cuda::Unary::exp;
    case UnaryOp::log:
      return cuda::Unary::log;
    case UnaryOp::sqrt:
      return cuda::Unary::sqrt;
    case UnaryOp::square:
      return cuda::Unary::square;
  }
  LORY_ASSERT(false);
  return cuda::Unary::neg;
}

Tensor unary(UnaryOp op, const Tensor& x) {
  const char* name = op_name(op);
  check_floating(x, name, "x");
  Tensor y;
  if (x.device() == Device::cuda) {
    y = Tensor::empty(x.shape(), x.dtype(), x.device());
    cuda::unary_forward(x.dtype(), cuda_op(op), x.raw_data(), y.raw_data(), x.numel());
  } else {
    y = forward(op, x);
  }
  Tensor saved;
  if (op == UnaryOp::exp || op == UnaryOp::sqrt) saved = y.detach();
  if (op == UnaryOp::log || op == UnaryOp::square) saved = x.detach();
  return record(name, y, {x}, [op, saved](const Tensor& dy, const std::vector<bool>&) {
    if (dy.device() == Device::cuda) {
      Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
      cuda::unary_backward(dy.dtype(), cuda_op(op), dy.raw_data(),
                           saved.defined() ? saved.raw_data() : nullptr, dx.raw_data(),
                           dy.numel());
      return std::vector<Tensor>{dx};
    }
    return std::vector<Tensor>{backward(op, dy, saved)};
  });
}

}  // namespace

Tensor neg(const Tensor& x) {
  return unary(UnaryOp::neg, x);
}
Tensor exp(const Tensor& x) {
  return unary(UnaryOp::exp, x);
}
Tensor log(const Tensor& x) {
  return unary(UnaryOp::log, x);
}
Tensor sqrt(const Tensor& x) {
  return unary(UnaryOp::sqrt, x);
}
Tensor square(const Tensor& x) {
  return unary(UnaryOp::square, x);
}

}  // namespace lory::ops
