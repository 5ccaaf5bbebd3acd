// swiglu on the GPU: launchers for ops/swiglu.cpp (all buffers in dtype dt, n elements,
// contiguous).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// y = silu(a) b
LORY_CUDA_API(swiglu_forward(DType dt, const void* a, const void* b, void* y, int64_t n))
// da = dy b s (1 + a (1 - s)), db = dy a s with s = sigmoid(a); da or db may be null.
LORY_CUDA_API(swiglu_backward(DType dt, const void* dy, const void* a, const void* b, void* da,
                              void* db, int64_t n))

}  // namespace lory::ops::cuda
