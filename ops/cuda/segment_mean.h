// segment_mean on the GPU: launchers for ops/segment_mean.cpp. x, dx (B, L, D); y, dy (B, N, D)
// with N = ceil(L / T); all in dtype dt (f32, bf16 or f64).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

LORY_CUDA_API(segment_mean_forward(DType dt, const void* x, void* y, int64_t B, int64_t L,
                                   int64_t D, int64_t T))
LORY_CUDA_API(segment_mean_backward(DType dt, const void* dy, void* dx, int64_t B, int64_t L,
                                    int64_t D, int64_t T))

}  // namespace lory::ops::cuda
