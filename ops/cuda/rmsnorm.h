// rmsnorm on the GPU: launchers for ops/rmsnorm.cpp (x, w, y, dy, dx, dw in dtype dt; rstd in
// float, or double when dt is f64). Row-major x (R, D).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

LORY_CUDA_API(rmsnorm_forward(DType dt, const void* x, const void* w, void* y, void* rstd,
                              int64_t R, int64_t D, double eps))
// dx and dw may be null (not needed).
LORY_CUDA_API(rmsnorm_backward(DType dt, const void* x, const void* w, const void* rstd,
                               const void* dy, void* dx, void* dw, int64_t R, int64_t D))

}  // namespace lory::ops::cuda
