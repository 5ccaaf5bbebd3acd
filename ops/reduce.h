// Sums and means: over the whole tensor, or over one dim. Deterministic for any thread count
// (fixed-size blocks combined in a fixed order); f32 inputs are accumulated in double.
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (...) -> () rank 0
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);

// x (d0, ..., dk, ..., dn) -> (d0, ..., dn) without dk, or with dk = 1 when keepdim.
// dim may be negative (-1 is the last dim). The mean of an empty dim is NaN.
Tensor sum(const Tensor& x, int dim, bool keepdim = false);
Tensor mean(const Tensor& x, int dim, bool keepdim = false);

}  // namespace lory::ops
