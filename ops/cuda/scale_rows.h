// scale_rows on the GPU: launchers for ops/scale_rows.cpp (all buffers in dtype dt, row-major).
#pragma once
#include "core/cuda/api.h"

namespace lory::ops::cuda {

// x (M, D), s (M) -> y (M, D): y[m, :] = s[m] x[m, :]   (also dx = s dy)
LORY_CUDA_API(scale_rows_forward(DType dt, const void* x, const void* s, void* y, int64_t M,
                                 int64_t D))
// a, b (M, D) -> out (M): out[m] = <a[m, :], b[m, :]>   (ds = <dy, x> per row)
LORY_CUDA_API(scale_rows_row_dots(DType dt, const void* a, const void* b, void* out, int64_t M,
                                  int64_t D))

}  // namespace lory::ops::cuda
