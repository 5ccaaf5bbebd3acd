// Index CUDA kernels: gathers with one thread per output element; scatter-adds without atomics
// (each output element sums its own sources in a fixed order, so results are deterministic);
// top-k by K selection passes per row.
#include "core/cuda/device.cuh"
#include "ops/cuda/index.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

template <typename F>
void dispatch_elem(size_t elem_size, const char* op, F&& f) {
  switch (elem_size) {
    case 2:
      f(uint16_t{});
      break;
    case 4:
      f(uint32_t{});
      break;
    case 8:
      f(uint64_t{});
      break;
    default:
      LORY_FAIL(op, ": element size ", elem_size, " is not supported; expected 2, 4 or 8");
  }
}

template <typename E>
__global__ void gather_rows_kernel(const E* x, const int32_t* idx, E* y, int64_t K, int64_t D) {
  LORY_GRID_STRIDE(i, K * D) {
    int64_t k = i / D, c = i - k * D;
    y[i] = x[int64_t(idx[k]) * D + c];
  }
}

template <typename T>
__global__ void sum_row_groups_kernel(const T* src, const int32_t* start, const int32_t* order,
                                      T* y, int64_t M, int64_t D) {
  LORY_GRID_STRIDE(i, M * D) {
    int64_t m = i / D, c = i - m * D;
    acc_t<T> s = 0;
    for (int32_t j = start[m]; j < start[m + 1]; ++j) s += to_acc(src[int64_t(order[j]) * D + c]);
    y[i] = from_acc<T>(s);
  }
}

template <typename E>
__global__ void take_forward_kernel(const E* x, const int32_t* idx, E* y, int64_t M, int64_t E_,
                                    int64_t K) {
  LORY_GRID_STRIDE(i, M * K) {
    int64_t m = i / K;
    y[i] = x[m * E_ + idx[i]];
  }
}

template <typename T>
__global__ void take_backward_kernel(const int32_t* idx, const T* dy, T* dx, int64_t M, int64_t E_,
                                     int64_t K) {
  LORY_GRID_STRIDE(i, M * E_) {
    int64_t m = i / E_, e = i - m * E_;
    acc_t<T> s = 0;
    for (int64_t j = 0; j < K; ++j)
      if (idx[m * K + j] == e) s += to_acc(dy[m * K + j]);
    dx[i] = from_acc<T>(s);
  }
}

// One thread per row. The order is "a before b" iff x_a > x_b or (x_a == x_b and a < b); pass k
// picks the first element in that order among those after pick k-1, so no per-row state beyond
// the previous pick is needed. O(K·E) per row: meant for router rows (E experts). A row whose
// remaining entries are all NaN (never after anything) yields index 0 for the rest.
template <typename T>
__global__ void topk_kernel(const T* x, int32_t* out, int64_t M, int64_t E_, int64_t K) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(m, M) {
    const T* row = x + m * E_;
    int64_t prev = -1;
    A prev_v = 0;
    for (int64_t k = 0; k < K; ++k) {
      int64_t best = -1;
      A best_v = 0;
      for (int64_t e = 0; e < E_; ++e) {
        A v = to_acc(row[e]);
        if (prev >= 0 && !(v < prev_v || (v == prev_v && e > prev))) continue;
        if (best < 0 || v > best_v) best = e, best_v = v;  // e ascending: ties keep the lower
      }
      if (best < 0) best = 0;
      out[m * K + k] = static_cast<int32_t>(best);
      prev = best;
      prev_v = best_v;
    }
  }
}

}  // namespace

void gather_rows(size_t elem_size, const void* x, const int32_t* idx, void* y, int64_t K,
                 int64_t D) {
  if (K * D == 0) return;
  dispatch_elem(elem_size, "index_select_rows", [&](auto zero) {
    using E = decltype(zero);
    gather_rows_kernel<E>
        <<<grid_for(K * D), kThreads>>>(static_cast<const E*>(x), idx, static_cast<E*>(y), K, D);
  });
  CUDA_CHECK_LAUNCH();
}

void sum_row_groups(DType dt, const void* src, const int32_t* start, const int32_t* order, void* y,
                    int64_t M, int64_t D) {
  if (M * D == 0) return;
  dispatch_cuda_float(dt, "index_add_rows", [&](auto zero) {
    using T = decltype(zero);
    sum_row_groups_kernel<T><<<grid_for(M * D), kThreads>>>(static_cast<const T*>(src), start,
                                                            order, static_cast<T*>(y), M, D);
  });
  CUDA_CHECK_LAUNCH();
}

void take_along_last_forward(size_t elem_size, const void* x, const int32_t* idx, void* y,
                             int64_t M, int64_t E, int64_t K) {
  if (M * K == 0) return;
  dispatch_elem(elem_size, "take_along_last", [&](auto zero) {
    using El = decltype(zero);
    take_forward_kernel<El><<<grid_for(M * K), kThreads>>>(static_cast<const El*>(x), idx,
                                                           static_cast<El*>(y), M, E, K);
  });
  CUDA_CHECK_LAUNCH();
}

void take_along_last_backward(DType dt, const int32_t* idx, const void* dy, void* dx, int64_t M,
                              int64_t E, int64_t K) {
  if (M * E == 0) return;
  dispatch_cuda_float(dt, "take_along_last backward", [&](auto zero) {
    using T = decltype(zero);
    take_backward_kernel<T><<<grid_for(M * E), kThreads>>>(idx, static_cast<const T*>(dy),
                                                           static_cast<T*>(dx), M, E, K);
  });
  CUDA_CHECK_LAUNCH();
}

void topk_indices(DType dt, const void* x, int32_t* out, int64_t M, int64_t E, int64_t K) {
  if (M * K == 0) return;
  dispatch_cuda_float(dt, "topk_indices", [&](auto zero) {
    using T = decltype(zero);
    // Small blocks: one thread per row, and M is often only a few thousand rows.
    topk_kernel<T><<<grid_for(M, 64), 64>>>(static_cast<const T*>(x), out, M, E, K);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
