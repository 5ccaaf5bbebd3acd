// softmax / log_softmax on the GPU: launchers for ops/softmax.cpp. x, y, dy, dx row-major (R, V)
// in dtype dt (f32, bf16 or f64); statistics in fp32 (f64 for f64).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// y = softmax(x) (log = false) or log_softmax(x) (log = true) over each row of V.
LORY_CUDA_API(softmax_forward(DType dt, const void* x, void* y, int64_t R, int64_t V, bool log))
// dx from the saved output y and dy (formulas in ops/softmax.cpp).
LORY_CUDA_API(softmax_backward(DType dt, const void* y, const void* dy, void* dx, int64_t R,
                               int64_t V, bool log))

}  // namespace lory::ops::cuda
