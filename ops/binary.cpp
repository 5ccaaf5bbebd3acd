// add, sub, mul, div with suffix and one-element broadcasting; add_scalar, mul_scalar.
//   Forward: over the n elements of the larger shape, y[i] = f(a[i mod ma], b[i mod mb]), where
//   ma, mb are the operands' numels: the larger one has ma = n; a trailing-suffix operand repeats
//   with period its numel in row-major order, and a one-element operand with period 1.
//   Backward, per output element (then summed over repeats, below):
//     add: da = dy,    db = dy
//     sub: da = dy,    db = -dy
//     mul: da = dy b,  db = dy a
//     div: da = dy / b, db = -dy a / b^2 = -dy y / b
//   Element j of a smaller operand (period m) feeds the n/m outputs j, j + m, j + 2m, ..., so
//   its gradient is the sum of those terms: view the full-size gradient as (n/m, m), sum dim 0.
#include "ops/binary.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/binary.h"
#include "ops/reduce.h"
#include "ops/scale.h"

namespace lory::ops {
namespace {

enum class BinaryOp { add, sub, mul, div };

const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
      return "add";
    case BinaryOp::sub:
      return "sub";
    case BinaryOp::mul:
      return "mul";
    case BinaryOp::div:
      return "div";
  }
  return "?";
}

// Is `small` a trailing suffix of `big`? (The rank-0 shape is a suffix of every shape.)
bool is_suffix(const Shape& small, const Shape& big) {
  if (small.rank() > big.rank()) return false;
  for (int i = 1; i <= small.rank(); ++i)
    if (small[-i] != big[-i]) return false;
  return true;
}

// The output shape of a op b, or a clear error naming both shapes.
Shape broadcast_shape(const char* op, const Tensor& a, const Tensor& b) {
  const Shape &sa = a.shape(), &sb = b.shape();
  if (is_suffix(sb, sa)) return sa;
  if (is_suffix(sa, sb)) return sb;
  if (b.numel() == 1) return sa;
  if (a.numel() == 1) return sb;
  LORY_FAIL(op, ": 'a' has shape ", sa.str(), " but 'b' has shape ", sb.str(),
            "; expected equal shapes, one a trailing suffix of the other (repeated over the "
            "leading dims), or a one-element operand");
}

// y[i] = f(big[i], small[i mod m]) (or f(small, big) when !small_is_b), i in [0, n).
template <typename T, typename F>
void broadcast_kernel(const T* big, const T* small, T* y, int64_t n, int64_t m, bool small_is_b,
                      F f) {
  if (n == 0) return;
  parallel_for(n, 1 << 15, [&](int64_t begin, int64_t end) {
    if (m == 1) {
      T s = small[0];
      if (small_is_b)
        for (int64_t i = begin; i < end; ++i) y[i] = f(big[i], s);
      else
        for (int64_t i = begin; i < end; ++i) y[i] = f(s, big[i]);
      return;
    }
    for (int64_t i = begin; i < end;) {  // one run of small per step: no modulo per element
      int64_t j = i % m, stop = std::min(end, i + (m - j));
      if (small_is_b)
        for (; i < stop; ++i, ++j) y[i] = f(big[i], small[j]);
      else
        for (; i < stop; ++i, ++j) y[i] = f(small[j], big[i]);
    }
  });
}

// a op b without autograd (also used by the backward passes).
Tensor apply(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  Shape shape = broadcast_shape(name, a, b);
  Tensor y = Tensor::empty(shape, a.dtype(), a.device());
  bool small_is_b = b.numel() != y.numel() || a.numel() == y.numel();
  const Tensor& big = small_is_b ? a : b;
  const Tensor& small = small_is_b ? b : a;
  dispatch_float(a.dtype(), name, [&](auto zero) {
    using T = decltype(zero);
    const T* pb = big.data<T>();
    const T* ps = small.data<T>();
    T* py = y.data<T>();
    int64_t n = y.numel(), m = small.numel();
    switch (op) {
      case BinaryOp::add:
        broadcast_kernel(pb, ps, py, n, m, small_is_b, [](T u, T v) { return u + v; });
        break;
      case BinaryOp::sub:
        broadcast_kernel(pb, ps, py, n, m, small_is_b, [](T u, T v) { return u - v; });
        break;
      case BinaryOp::mul:
        broadcast_kernel(pb, ps, py, n, m, small_is_b, [](T u, T v) { return u * v; });
        break;
      case BinaryOp::div:
        broadcast_kernel(pb, ps, py, n, m, small_is_b, [](T u, T v) { return u / v; });
        break;
    }
  });
  return y;
}

// Sums a gradient shaped like the output down to an operand's shape (see the header comment).
Tensor reduce_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  int64_t m = shape.numel();
  if (m == 0) return Tensor::zeros(shape, g.dtype(), g.device());
  return sum(g.view({g.numel() / m, m}), 0).view(shape);
}

void check_args(const char* op, const Tensor& a, const Tensor& b) {
  check_floating(a, op, "a");
  check_floating(b, op, "b");
  check_same_device(a, b, op, "a", "b");
  check_same_dtype(a, b, op, "a", "b");
}

cuda::Binary cuda_op(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
      return cuda::Binary::add;
    case BinaryOp::sub:
      return cuda::Binary::sub;
    case BinaryOp::mul:
      return cuda::Binary::mul;
    case BinaryOp::div:
      return cuda::Binary::div;
  }
  LORY_ASSERT(false);
  return cuda::Binary::add;
}

// a op b without autograd on either device: the CPU kernel is apply's; on the GPU the same
// broadcast (big[i] with small[i mod m]) runs in ops/cuda/binary.cu.
Tensor compute(BinaryOp op, const Tensor& a, const Tensor& b) {
  if (a.device() != Device::cuda) return apply(op, a, b);
  Shape shape = broadcast_shape(op_name(op), a, b);
  Tensor y = Tensor::empty(shape, a.dtype(), a.device());
  bool small_is_b = b.numel() != y.numel() || a.numel() == y.numel();
  const Tensor& big = small_is_b ? a : b;
  const Tensor& small = small_is_b ? b : a;
  cuda::binary_forward(a.dtype(), cuda_op(op), big.raw_data(), small.raw_data(), y.raw_data(),
                       y.numel(), small.numel(), small_is_b);
  return y;
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  check_args(name, a, b);
  Tensor y = compute(op, a, b);
  Shape sa = a.shape(), sb = b.shape();
  // Save only what the wanted gradients read: da of mul reads b, db reads a; div reads b, y.
  Tensor a_saved = op == BinaryOp::mul && b.requires_grad() ? a.detach() : Tensor();
  Tensor b_saved =
      (op == BinaryOp::mul && a.requires_grad()) || op == BinaryOp::div ? b.detach() : Tensor();
  Tensor y_saved = op == BinaryOp::div && b.requires_grad() ? y.detach() : Tensor();
  return record(
      name, y, {a, b},
      [op, sa, sb, a_saved, b_saved, y_saved](const Tensor& dy, const std::vector<bool>& needs) {
        Tensor da, db;
        switch (op) {
          case BinaryOp::add:
            if (needs[0]) da = reduce_to(dy, sa);
            if (needs[1]) db = reduce_to(dy, sb);
            break;
          case BinaryOp::sub:
            if (needs[0]) da = reduce_to(dy, sa);
            if (needs[1]) db = scale(reduce_to(dy, sb), -1.0);
            break;
          case BinaryOp::mul:
            if (needs[0]) da = reduce_to(compute(BinaryOp::mul, dy, b_saved), sa);
            if (needs[1]) db = reduce_to(compute(BinaryOp::mul, dy, a_saved), sb);
            break;
          case BinaryOp::div:
            if (needs[0]) da = reduce_to(compute(BinaryOp::div, dy, b_saved), sa);
            if (needs[1]) {
              Tensor t = compute(BinaryOp::div, compute(BinaryOp::mul, dy, y_saved), b_saved);
              db = scale(reduce_to(t, sb), -1.0);
            }
            break;
        }
        return std::vector<Tensor>{da, db};
      });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::add, a, b);
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::sub, a, b);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::mul, a, b);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::div, a, b);
}

// y = x + c.  Backward: dx = dy.
Tensor add_scalar(const Tensor& x, double c) {
  check_floating(x, "add_scalar", "x");
  Tensor y;
  if (x.device() == Device::cuda) {
    y = Tensor::empty(x.shape(), x.dtype(), x.device());
    cuda::add_scalar_forward(x.dtype(), x.raw_data(), y.raw_data(), x.numel(), c);
  } else {
    y = apply(BinaryOp::add, x, Tensor::scalar(c, x.dtype()));
  }
  return record("add_scalar", y, {x},
                [](const Tensor& dy, const std::vector<bool>&) { return std::vector<Tensor>{dy}; });
}

Tensor mul_scalar(const Tensor& x, double c) {
  return scale(x, c);
}

}  // namespace lory::ops
