// Shared device code for the softmax family (softmax, log_softmax, cross_entropy): one pass over
// a row that yields its max m and Σ exp(x - m) ("online" softmax), one block per row.
#pragma once
#include "core/cuda/device.cuh"

namespace lory::ops::cuda {

// Row statistics of xr[0, V), computed by the whole block (blockDim.x a multiple of 32); every
// thread gets m = max_j x_j and s = Σ_j exp(x_j - m). `scratch` holds 32 values in shared memory.
//
// Each thread keeps a running (m, s) over its strided elements: a new maximum v rescales the
// sum, s ← s · exp(m - v) + 1. The threads' pairs then combine as m = max over threads and
// s = Σ_t s_t · exp(m_t - m). A thread whose elements are all -inf (or that has none) has
// m_t = -inf and contributes 0; testing that explicitly avoids exp(-inf - (-inf)) = NaN. A NaN
// element reaches s through exp(NaN), so a NaN row stays NaN.
template <typename T>
__device__ void row_max_sumexp(const T* xr, int64_t V, lory::cuda::acc_t<T>* scratch,
                               lory::cuda::acc_t<T>& m_out, lory::cuda::acc_t<T>& s_out) {
  using namespace lory::cuda;
  using A = acc_t<T>;
  const A neg_inf = -INFINITY;
  A m = neg_inf, s = 0;
  for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
    A v = to_acc(xr[j]);
    if (v > m) {
      s = (m == neg_inf ? A(0) : s * exp(m - v)) + A(1);
      m = v;
    } else if (v != neg_inf) {
      s += exp(v - m);
    }
  }
  A row_m = block_max(m, scratch);
  A scaled = m == neg_inf ? A(0) : s * exp(m - row_m);
  s_out = block_sum(scaled, scratch);
  m_out = row_m;
}

// Threads per row block: enough for a few elements per thread, a multiple of 32, at most 1024.
inline int softmax_row_threads(int64_t V) {
  return V >= 8192 ? 1024 : V >= 2048 ? 512 : V >= 512 ? 256 : V >= 128 ? 128 : 32;
}

}  // namespace lory::ops::cuda
