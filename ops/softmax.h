// softmax and log_softmax over the last dim, numerically stable (the row max is subtracted).
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (..., V) -> (..., V):  y_j = exp(x_j - m) / Σ_k exp(x_k - m),  m = max_k x_k.
Tensor softmax(const Tensor& x);

// x (..., V) -> (..., V):  y_j = x_j - m - log Σ_k exp(x_k - m).
Tensor log_softmax(const Tensor& x);

}  // namespace lory::ops
