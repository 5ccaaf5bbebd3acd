// dropout on the GPU: launcher for ops/dropout.cpp (in, out in dtype dt, n elements).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// out[i] = in[i] / (1 - p) when uniform_at(seed, first + i) >= p, else 0: the same mask as the
// CPU kernel (core/random.h is host-and-device code, and the draw is exact integer arithmetic
// plus an exact power-of-two scaling, so both sides compare identical doubles against p).
LORY_CUDA_API(dropout_apply(DType dt, const void* in, void* out, int64_t n, double p,
                            uint64_t seed, uint64_t first))

}  // namespace lory::ops::cuda
