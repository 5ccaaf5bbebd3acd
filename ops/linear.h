// linear: y = x·W, the projection of every row of x by a weight stored (In, Out).
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (..., In), w (In, Out) -> (..., Out). One GEMM over all rows of x (see matmul). The weight
// layout (In, Out) follows LORY.md, which writes x·W1. x may be 1-D (In,) -> (Out,).
Tensor linear(const Tensor& x, const Tensor& w);

}  // namespace lory::ops
