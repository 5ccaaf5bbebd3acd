// neg, exp, log, sqrt, square on the GPU: launchers for ops/unary.cpp (all buffers in dtype dt,
// n elements, contiguous).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

enum class Unary { neg, exp, log, sqrt, square };

// y = f(x)
LORY_CUDA_API(unary_forward(DType dt, Unary op, const void* x, void* y, int64_t n))
// dx from dy and the saved s: y for exp and sqrt, x for log and square, unused (may be null)
// for neg.
LORY_CUDA_API(unary_backward(DType dt, Unary op, const void* dy, const void* s, void* dx,
                             int64_t n))

}  // namespace lory::ops::cuda
