// sum and mean on the GPU: launchers for ops/reduce.cpp. x is viewed as (outer, len, inner),
// row-major, in dtype dt; y (outer, inner).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// y[o, i] = scale · Σ_k x[o, k, i]   (deterministic: fixed blocks, partials added in order)
LORY_CUDA_API(reduce_sum(DType dt, const void* x, void* y, int64_t outer, int64_t len,
                         int64_t inner, double scale))
// dx[o, k, i] = scale · dy[o, i]
LORY_CUDA_API(reduce_expand(DType dt, const void* dy, void* dx, int64_t outer, int64_t len,
                            int64_t inner, double scale))

}  // namespace lory::ops::cuda
