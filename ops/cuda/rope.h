// rope on the GPU: launcher for ops/rope.cpp. x, y row-major (BH, L, Dh) in dtype dt (f32, bf16 or
// f64), Dh even.
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// y = x with each (i, i + Dh/2) pair of row l rotated by direction · (pos_offset + l) ·
// theta^(-2i/Dh); direction +1 is the forward op, -1 its backward (the inverse rotation).
LORY_CUDA_API(rope_apply(DType dt, const void* x, void* y, int64_t BH, int64_t L, int64_t Dh,
                         int64_t pos_offset, double theta, int direction))

}  // namespace lory::ops::cuda
