// cast on the GPU: the launcher for ops/cast.cpp. x holds n elements of dtype `from`, y n of
// dtype `to` (each f32, bf16 or f64).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

LORY_CUDA_API(cast(DType from, const void* x, DType to, void* y, int64_t n))

}  // namespace lory::ops::cuda
