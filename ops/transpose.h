// permute / transpose: a contiguous copy with the dims reordered (tensors are always contiguous,
// so this is a real copy; GEMMs take transpose flags instead).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace lory::ops {

// x (d_0, ..., d_{r-1}) -> (d_dims[0], ..., d_dims[r-1]); dims a permutation of 0..r-1
// (negative entries count from the end). E.g. (B, L, H, Dh) -> (B, H, L, Dh) with {0, 2, 1, 3}.
// Any dtype, CPU.
Tensor permute(const Tensor& x, const std::vector<int>& dims);
// Swaps dims d0 and d1: (..., a, ..., b, ...) -> (..., b, ..., a, ...).
Tensor transpose(const Tensor& x, int d0, int d1);

}  // namespace lory::ops
