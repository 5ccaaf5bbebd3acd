// SwiGLU gate: silu(a) * b, fused (one pass forward, one pass backward).
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// a (..., F) gate pre-activation, b (..., F) up projection, same shapes -> (..., F)
Tensor swiglu(const Tensor& a, const Tensor& b);

}  // namespace lory::ops
