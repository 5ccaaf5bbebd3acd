// lory_ffn on the GPU: launchers for ops/lory_ffn.cpp. All tensors have dtype dt (f32, bf16 or
// f64), are packed row-major and live on the GPU; shapes as in ops/lory_ffn.h:
//   x, y, dy, dx (B, L, D)   route, droute (B, N, E) with N = ceil(L/T)
//   w1, w3, dw1, dw3 (E, D, F)   w2, dw2 (E, F, D)   a, g (B, L, F)
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// y = (silu(x·Wbar1) ⊙ (x·Wbar3))·Wbar2 per segment; also writes a = x·Wbar1 and g = x·Wbar3.
LORY_CUDA_API(lory_ffn_forward(DType dt, int64_t B, int64_t L, int64_t D, int64_t F, int64_t E,
                               int64_t T, const void* x, const void* route, const void* w1,
                               const void* w3, const void* w2, void* y, void* a, void* g))

// Gradients from dy and the saved a, g. Any of dx, droute, dw1, dw3, dw2 may be null (not
// needed); the others are overwritten.
LORY_CUDA_API(lory_ffn_backward(DType dt, int64_t B, int64_t L, int64_t D, int64_t F, int64_t E,
                                int64_t T, const void* dy, const void* x, const void* route,
                                const void* w1, const void* w3, const void* w2, const void* a,
                                const void* g, void* dx, void* droute, void* dw1, void* dw3,
                                void* dw2))

// Bytes allowed for one chunk's merged weights (Wbar1, Wbar3, Wbar2 together; backward holds
// as much again for their gradients); at least one segment per chunk whatever the budget.
// Default 1 GiB. Tests lower it to exercise several chunks.
LORY_CUDA_API(lory_ffn_set_chunk_bytes(int64_t bytes))

}  // namespace lory::ops::cuda
