// Row gathers and deterministic scatter-adds on the GPU: launchers for ops/index.cpp and
// ops/embedding.cpp. All pointers are device pointers; indices are i32.
#pragma once
#include <cstddef>

#include "core/cuda/api.h"

namespace lory::ops::cuda {

// y (K, D) row k = x[idx[k]] (x (M, D)); any dtype, moved by element size (2, 4 or 8 bytes).
LORY_CUDA_API(gather_rows(size_t elem_size, const void* x, const int32_t* idx, void* y, int64_t K,
                          int64_t D))
// y (M, D) row m = Σ_{j in [start[m], start[m+1])} src[order[j]] (src (K, D)), summed in j order
// (fp32), so the result is deterministic: start/order list each row's sources
// (ops/cuda/row_groups.h). Every row of y is written (rows without sources get 0). dt: f32, bf16 or
// f64.
LORY_CUDA_API(sum_row_groups(DType dt, const void* src, const int32_t* start, const int32_t* order,
                             void* y, int64_t M, int64_t D))
// x (M, E), idx (M, K) -> y (M, K): y[m, j] = x[m, idx[m, j]]; any dtype by element size.
LORY_CUDA_API(take_along_last_forward(size_t elem_size, const void* x, const int32_t* idx, void* y,
                                      int64_t M, int64_t E, int64_t K))
// dx (M, E)[m, e] = Σ_{j: idx[m, j] = e} dy[m, j], in j order. dt: f32, bf16 or f64.
LORY_CUDA_API(take_along_last_backward(DType dt, const int32_t* idx, const void* dy, void* dx,
                                       int64_t M, int64_t E, int64_t K))
// out (M, K) i32: the indices of the K largest entries of each row of x (M, E), largest first,
// ties to the lower index. dt: f32, bf16 or f64.
LORY_CUDA_API(topk_indices(DType dt, const void* x, int32_t* out, int64_t M, int64_t E, int64_t K))

}  // namespace lory::ops::cuda
