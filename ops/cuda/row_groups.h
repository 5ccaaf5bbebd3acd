// Host-side grouping of row indices by destination for the GPU scatter-adds (index_add_rows,
// the backward of index_select_rows and of embedding): a counting sort, uploaded to the device.
// Plain C++ (no CUDA headers): included by ops/*.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace lory::ops::cuda {

// The sources of each destination row m in increasing order: order[start[m] : start[m+1]].
struct RowGroups {
  Tensor start;  // i32 (M + 1), on `device`
  Tensor order;  // i32 (K), on `device`
};

// idx: K host indices, each in [0, M) (checked by the caller).
inline RowGroups group_rows(const int32_t* idx, int64_t K, int64_t M, Device device) {
  LORY_CHECK(K < INT32_MAX, "scatter-add: ", K, " source rows; expected fewer than 2^31");
  std::vector<int32_t> start(static_cast<size_t>(M + 1), 0), order(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) ++start[idx[k] + 1];
  for (int64_t m = 0; m < M; ++m) start[m + 1] += start[m];
  std::vector<int32_t> next(start.begin(), start.end() - 1);
  for (int64_t k = 0; k < K; ++k) order[next[idx[k]]++] = static_cast<int32_t>(k);
  RowGroups g;
  g.start = Tensor::from_vector(start, Shape{M + 1}).to(device);
  g.order = Tensor::from_vector(order, Shape{K}).to(device);
  return g;
}

}  // namespace lory::ops::cuda
