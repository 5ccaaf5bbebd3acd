// Element-wise add, sub, mul, div of two tensors, with the broadcasting the model needs, and
// add/mul by a constant.
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// a, b: the same shape; or one's shape is a trailing suffix of the other's (b (D) or (L, D)
// against a (B, L, D): repeated over the leading dims); or one has a single element (a rank-0
// scalar). Either side may be the smaller. -> the larger shape. Same dtype and device.
// The smaller operand's gradient is summed over the dims it was repeated over (in a fixed
// order: deterministic). div does not guard against b == 0: that is the caller's business.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// x (...) -> (...): x + c, and c * x (the same as scale(x, c)).
Tensor add_scalar(const Tensor& x, double c);
Tensor mul_scalar(const Tensor& x, double c);

}  // namespace lory::ops
