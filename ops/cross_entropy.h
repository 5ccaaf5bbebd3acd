// cross_entropy: fused log-softmax + negative log-likelihood, mean over non-ignored positions.
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// logits (..., V) f32/f64, targets i32 (...) -> () of the logits' dtype:
//   loss = (1/n) Σ_{r: t_r != ignore_index} (logsumexp(logits_r) - logits_r[t_r])
// with n the number of non-ignored positions. Fused: forward keeps one logsumexp per row (as
// max + log-sum, not the V-sized softmax); backward writes dlogits = (softmax - onehot(t)) ·
// dloss / n directly.
// A target outside [0, V) that is not ignore_index is an error naming its position. When every
// position is ignored (n = 0) the loss is 0 and the gradient is zero (not 0/0 = NaN).
// On the GPU (logits f32, bf16 or f64; targets on the GPU too) the targets are validated by the
// forward kernel and the first bad one is read back: one host synchronisation per call.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int ignore_index = -100);

}  // namespace lory::ops
