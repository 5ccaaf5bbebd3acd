// sum and mean CUDA kernels, deterministic without atomics: the k-range of every output is cut
// into fixed blocks (sizes depend only on the shape), each block reduced to one fp32 partial,
// and the partials of an output added in block order by one thread.
//   inner == 1 (whole-tensor sums, sums over the last dim): a block of threads reduces
//   kRowChunk consecutive elements with block_sum (coalesced);
//   inner > 1: a thread sums kColRows rows of one column (neighbouring threads read neighbouring
//   columns: coalesced).
#include "core/cuda/device.cuh"
#include "ops/cuda/reduce.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

constexpr int kRowChunk = 2048;  // elements of a row per partial (inner == 1)
constexpr int kColRows = 64;     // rows per partial (inner > 1)

// partial[o nb + b] = Σ_{k in chunk b} x[o len + k]. Blocks loop over (o, b) items: the loop
// count is uniform within a block, so every thread reaches block_sum's __syncthreads.
template <typename T>
__global__ void row_partials_kernel(const T* x, acc_t<T>* partial, int64_t outer, int64_t len,
                                    int64_t nb) {
  using A = acc_t<T>;
  __shared__ A scratch[32];
  for (int64_t item = blockIdx.x; item < outer * nb; item += gridDim.x) {
    int64_t o = item / nb, b = item % nb;
    int64_t k0 = b * kRowChunk, k1 = min(len, k0 + kRowChunk);
    const T* row = x + o * len;
    A s = 0;
    for (int64_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) s += to_acc(row[k]);
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) partial[item] = s;
  }
}

// partial[(o nb + b) inner + i] = Σ_{k in rows of block b} x[(o len + k) inner + i]
template <typename T>
__global__ void col_partials_kernel(const T* x, acc_t<T>* partial, int64_t outer, int64_t len,
                                    int64_t inner, int64_t nb) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(item, outer * nb * inner) {
    int64_t i = item % inner, ob = item / inner;
    int64_t o = ob / nb, b = ob % nb;
    int64_t k0 = b * kColRows, k1 = min(len, k0 + kColRows);
    const T* col = x + o * len * inner + i;
    A s = 0;
    for (int64_t k = k0; k < k1; ++k) s += to_acc(col[k * inner]);
    partial[item] = s;
  }
}

// y[o inner + i] = scale · Σ_b partial[(o nb + b) inner + i], b in order. An empty mean
// (nb = 0, scale = inf) is 0 · inf = NaN, as on the CPU.
template <typename T>
__global__ void finish_kernel(const acc_t<T>* partial, T* y, int64_t outer, int64_t inner,
                              int64_t nb, acc_t<T> scale) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(j, outer * inner) {
    int64_t o = j / inner, i = j % inner;
    A s = 0;
    for (int64_t b = 0; b < nb; ++b) s += partial[(o * nb + b) * inner + i];
    y[j] = from_acc<T>(s * scale);
  }
}

template <typename T>
__global__ void expand_kernel(const T* dy, T* dx, int64_t n, int64_t len, int64_t inner,
                              acc_t<T> scale) {
  LORY_GRID_STRIDE(j, n) {
    int64_t o = j / (len * inner), i = j % inner;
    dx[j] = from_acc<T>(scale * to_acc(dy[o * inner + i]));
  }
}

}  // namespace

void reduce_sum(DType dt, const void* x, void* y, int64_t outer, int64_t len, int64_t inner,
                double scale) {
  if (outer * inner == 0) return;
  dispatch_cuda_float(dt, "sum", [&](auto zero) {
    using T = decltype(zero);
    using A = acc_t<T>;
    auto xs = static_cast<const T*>(x);
    int64_t rows = inner == 1 ? kRowChunk : kColRows;
    int64_t nb = (len + rows - 1) / rows;
    Scratch<A> scratch(outer * nb * inner);
    A* partial = scratch.get();
    if (nb > 0) {
      if (inner == 1) {
        int blocks = static_cast<int>(std::min<int64_t>(outer * nb, 4096));
        row_partials_kernel<T><<<blocks, kThreads>>>(xs, partial, outer, len, nb);
      } else {
        int64_t items = outer * nb * inner;
        col_partials_kernel<T><<<grid_for(items), kThreads>>>(xs, partial, outer, len, inner, nb);
      }
      CUDA_CHECK_LAUNCH();
    }
    finish_kernel<T><<<grid_for(outer * inner), kThreads>>>(partial, static_cast<T*>(y), outer,
                                                            inner, nb, static_cast<A>(scale));
    CUDA_CHECK_LAUNCH();
  });
}

void reduce_expand(DType dt, const void* dy, void* dx, int64_t outer, int64_t len, int64_t inner,
                   double scale) {
  int64_t n = outer * len * inner;
  if (n == 0) return;
  dispatch_cuda_float(dt, "sum backward", [&](auto zero) {
    using T = decltype(zero);
    expand_kernel<T><<<grid_for(n), kThreads>>>(static_cast<const T*>(dy), static_cast<T*>(dx), n,
                                                len, inner, static_cast<acc_t<T>>(scale));
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
