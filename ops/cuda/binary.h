// add, sub, mul, div with suffix and one-element broadcasting, and add_scalar, on the GPU:
// launchers for ops/binary.cpp (all buffers in dtype dt, contiguous).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

enum class Binary { add, sub, mul, div };

// y[i] = f(big[i], small[i mod m]), or f(small[i mod m], big[i]) when !small_is_b; i in [0, n),
// m = small's numel (m divides n, m >= 1 when n >= 1).
LORY_CUDA_API(binary_forward(DType dt, Binary op, const void* big, const void* small, void* y,
                             int64_t n, int64_t m, bool small_is_b))
// y = x + c over n elements
LORY_CUDA_API(add_scalar_forward(DType dt, const void* x, void* y, int64_t n, double c))

}  // namespace lory::ops::cuda
