// silu and gelu (exact erf form) on the GPU: launchers for ops/activation.cpp (all buffers in
// dtype dt, n elements, contiguous).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// y = silu(x) when is_silu, else gelu(x)
LORY_CUDA_API(activation_forward(DType dt, bool is_silu, const void* x, void* y, int64_t n))
// dx = dy · f'(x), recomputed from the saved x
LORY_CUDA_API(activation_backward(DType dt, bool is_silu, const void* x, const void* dy, void* dx,
                                  int64_t n))

}  // namespace lory::ops::cuda
