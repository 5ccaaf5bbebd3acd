// scale on the GPU: launcher for ops/scale.cpp (x, y in dtype dt, n elements, contiguous).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// y = alpha x (also dx = alpha dy)
LORY_CUDA_API(scale_forward(DType dt, const void* x, void* y, int64_t n, double alpha))

}  // namespace lory::ops::cuda
