// segment_mean: mean over consecutive segments of T tokens (the Lory router input, LORY.md §2.1).
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace lory::ops {

// x (B, L, D) -> (B, N, D), N = ceil(L / T):  y[b,k] = (1/c_k) Σ_{t in segment k} x[b,t],
// segment k = tokens [k·T, min((k+1)·T, L)), c_k its token count (a partial last segment
// averages the tokens it has). Backward spreads dy[b,k] / c_k to every token of segment k.
Tensor segment_mean(const Tensor& x, int64_t T);

}  // namespace lory::ops
