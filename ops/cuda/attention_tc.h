// causal_attention on bf16 tensor cores (ops/cuda/attention_tc.cu forward,
// attention_tc_backward.cu backward, attention_tc.cuh shared pieces), called by the launchers in
// ops/cuda/attention.cu; same arguments and semantics as the SIMT kernels there (see
// ops/cuda/attention.h). Internal to the CUDA backend: included by .cu files only.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "core/dtype.h"

namespace lory::ops::cuda {

// Whether the tensor-core kernels run these arguments: bf16, Dh 64 or 128, an sm_80+ device and
// every pointer 16-byte aligned (rows are moved as 16-byte vectors).
bool tc_attention_supported(DType dt, int64_t Dh, std::initializer_list<const void*> pointers);

// q, out (BH, Lq, Dh), k, v (BH, Lk, Dh) bf16; lse (BH, Lq) fp32. Lq >= 1.
void tc_attention_forward(const void* q, const void* k, const void* v, void* out, float* lse,
                          int64_t BH, int64_t Lq, int64_t Lk, int64_t Dh);

// delta (BH, Lq) = rowsum(dout ⊙ out), precomputed; dq (BH, Lq, Dh), dk, dv (BH, Lk, Dh).
void tc_attention_backward(const void* q, const void* k, const void* v, const float* lse,
                           const float* delta, const void* dout, void* dq, void* dk, void* dv,
                           int64_t BH, int64_t Lq, int64_t Lk, int64_t Dh);

}  // namespace lory::ops::cuda
