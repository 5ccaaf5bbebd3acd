// Shared device-side helpers for the project's kernels (.cu files only): element types and
// their fp32 compute type, launch geometry, warp and block reductions, and the host-side dtype
// dispatch. Every kernel computes in fp32 (f64 for f64 tensors) whatever it loads and stores.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda/check.h"
#include "core/dtype.h"
#include "core/storage.h"

namespace lory::cuda {

// --- element types ------------------------------------------------------------------------
// acc_t<T>: the type arithmetic runs in (float for float and bf16, double for double).
template <typename T> struct Acc { using type = float; };
template <> struct Acc<double> { using type = double; };
template <typename T> using acc_t = typename Acc<T>::type;

__device__ __forceinline__ float to_acc(float x) { return x; }
__device__ __forceinline__ double to_acc(double x) { return x; }
__device__ __forceinline__ float to_acc(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_acc(acc_t<T> x) { return static_cast<T>(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Runs f(T{}) with T = float, double or __nv_bfloat16 according to the tensor dtype.
template <typename F>
void dispatch_cuda_float(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    case DType::bf16: f(__nv_bfloat16{}); break;
    default:
      LORY_FAIL(op, ": dtype ", dtype_name(dt), " is not supported by the CUDA kernel; expected f32, "
                "bf16 or f64");
  }
}

// Temporary device memory for one launcher call, from the caching allocator. Freed blocks are
// reused by later launches on the same (only) stream, so reuse is ordered after the kernels
// that still read this one.
template <typename A>
class Scratch {
 public:
  explicit Scratch(int64_t n) : bytes_(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(A)) {
    ptr_ = static_cast<A*>(allocate(bytes_));
  }
  ~Scratch() { deallocate(ptr_, bytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  A* get() const { return ptr_; }

 private:
  size_t bytes_;
  A* ptr_;
};

// --- launch geometry ----------------------------------------------------------------------
constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements (capped: each thread then loops).
inline int grid_for(int64_t n, int threads = kThreads) {
  int64_t blocks = (n + threads - 1) / threads;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(blocks, 4096)));
}

#define LORY_GRID_STRIDE(i, n)                                                   \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n);      \
       i += int64_t(gridDim.x) * blockDim.x)

// --- reductions ---------------------------------------------------------------------------
template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
template <typename A>
__device__ __forceinline__ A warp_max(A v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `scratch` holds 32 values in shared memory. The order of additions is fixed by the launch
// geometry, so results are deterministic run to run.
template <typename A>
__device__ A block_sum(A v, A* scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : A(0);
  return warp_sum(v);
}
template <typename A>
__device__ A block_max(A v, A* scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < nwarps ? scratch[lane] : A(-INFINITY);
  return warp_max(v);
}

}  // namespace lory::cuda
