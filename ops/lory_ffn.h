// lory_ffn: the segment-routed, parameter-merged SwiGLU FFN of a Lory MoE layer (LORY.md §2,
// steps 4-5). Fused so that merged weights are never kept: the forward pass merges each
// segment's experts into a scratch buffer, the backward pass merges them again (cost E/T of
// the FFN) instead of holding B·N merged copies of the FFN in memory.
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (B,L,D), route (B,N,E) with N = ceil(L/T), w1 (E,D,F), w3 (E,D,F), w2 (E,F,D) -> y (B,L,D).
// Tokens t in [kT, min(L,(k+1)T)) of sequence b use the merged weights
//   Wbar_s = Σ_i route[b,k,i] · W_s[i]   (s = 1, 3, 2)
// and y = (silu(x·Wbar1) ⊙ (x·Wbar3)) · Wbar2. route is whatever the caller decided (after the
// causal shift); gradients flow into x, route and all three expert tensors.
// CPU: f32 or f64. GPU (ops/cuda/lory_ffn.cu, cuBLAS): f32 (TF32 when allowed), bf16 or f64.
Tensor lory_ffn(const Tensor& x, const Tensor& route, const Tensor& w1, const Tensor& w3,
                const Tensor& w2, int64_t T);

}  // namespace lory::ops
