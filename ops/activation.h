// Activations: SiLU and exact (erf) GELU.
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (...) -> (...): x * sigmoid(x)
Tensor silu(const Tensor& x);
// x (...) -> (...): x * Phi(x) = x/2 (1 + erf(x / sqrt 2)), the exact form (torch's default,
// not the tanh approximation)
Tensor gelu(const Tensor& x);

}  // namespace lory::ops
