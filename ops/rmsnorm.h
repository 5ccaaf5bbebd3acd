// rmsnorm: RMS normalisation over the last dim with a learned per-feature gain (LLaMA pre-norm).
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (..., D), weight (D) -> (..., D):  y = x / sqrt(mean(x²) + eps) * weight.
// Fused: forward saves only the per-row rstd = 1/sqrt(mean(x²) + eps); backward gives dx and
// dweight (summed over rows in fixed-size row blocks, the same for any thread count).
Tensor rmsnorm(const Tensor& x, const Tensor& weight, double eps = 1e-5);

}  // namespace lory::ops
