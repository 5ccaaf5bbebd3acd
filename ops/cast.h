// cast: a differentiable dtype conversion (mixed precision: fp32 master weights -> bf16 compute
// copies, bf16 logits -> fp32 loss).
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (...) in f32, f64 or bf16 -> (...) in `dtype` (f32, f64 or bf16), on x's device. Rounds to
// nearest even. Backward casts the gradient back to x's dtype. Casting to x's own dtype returns
// x itself. The CPU has no bf16 arithmetic, but casts to and from it (host conversion).
Tensor cast(const Tensor& x, DType dtype);

}  // namespace lory::ops
