// causal_attention on the GPU: launchers for ops/attention.cpp. q, out, dout, dq (BH, Lq, Dh);
// k, v, dk, dv (BH, Lk, Dh), all in dtype dt (f32 or bf16); lse (BH, Lq) in float. Lk >= Lq,
// 1 <= Dh <= kMaxHeadDim. Query i sees keys j <= i + (Lk - Lq), as in the CPU op.
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// The largest head dimension the kernels handle (one to four fp32 values per lane of a warp).
constexpr int64_t kMaxHeadDim = 128;

// Which kernels the launchers run. automatic: the bf16 tensor-core kernels
// (ops/cuda/attention_tc*.cu) for bf16 with Dh 64 or 128 on an sm_80+ GPU, unless the environment
// variable LORY_ATTENTION is "simt" (read at every call: an A/B switch and an escape hatch); the
// SIMT kernels otherwise. simt and tensor_core force one (tensor_core fails where it does not
// apply); the benchmark and the parity tests use them to compare the two.
enum class AttentionKernel { automatic, simt, tensor_core };

// out = softmax(q kᵀ / sqrt(Dh), causal) v; lse = the log-sum-exp of each query row's scaled
// scores (the only state backward needs besides q, k, v and out).
LORY_CUDA_API(causal_attention_forward(DType dt, const void* q, const void* k, const void* v,
                                       void* out, void* lse, int64_t BH, int64_t Lq, int64_t Lk,
                                       int64_t Dh,
                                       AttentionKernel kernel = AttentionKernel::automatic))
// dq, dk, dv from dout, recomputing the probabilities tile by tile. Deterministic (no atomics).
LORY_CUDA_API(causal_attention_backward(DType dt, const void* q, const void* k, const void* v,
                                        const void* out, const void* lse, const void* dout,
                                        void* dq, void* dk, void* dv, int64_t BH, int64_t Lq,
                                        int64_t Lk, int64_t Dh,
                                        AttentionKernel kernel = AttentionKernel::automatic))

}  // namespace lory::ops::cuda
