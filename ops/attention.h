// causal_attention: fused scaled-dot-product attention with a causal mask (flash-attention style).
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// q (B, H, Lq, Dh), k, v (B, H, Lk, Dh), Lk >= Lq -> (B, H, Lq, Dh):
//   o_i = Σ_{j <= i + (Lk - Lq)} softmax_j(q_i · k_j / sqrt(Dh)) v_j
// The last Lq keys line up with the Lq queries, so with Lk > Lq the op serves KV-cache decoding
// (query i sits at absolute position Lk - Lq + i). Forward saves only one logsumexp per query
// row (no Lq × Lk matrix is kept); backward recomputes the probabilities one query block at a
// time. Results are the same for any thread count.
Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v);

}  // namespace lory::ops
