// The CUDA side of the core: error reporting, the caching allocator (size-class free lists:
// cudaMalloc per step would dominate), copies on the one stream, and gradient accumulation.
#include <cstdio>
#include <map>
#include <mutex>
#include <vector>

#include "core/cuda/check.h"
#include "core/cuda/device.cuh"
#include "core/storage.h"

namespace lory::cuda {

void fail_cuda(cudaError_t err, const char* call, const char* file, int line) {
  const char* hint = err == cudaErrorMemoryAllocation
                         ? " HINT: the GPU is out of memory; reduce the batch size or sequence length"
                     : err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver
                         ? " HINT: no usable GPU; run on the CPU (device 'cpu')"
                         : "";
  LORY_FAIL("CUDA error ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ") in ", call,
            " at ", file, ":", line, ".", hint);
}

void fail_cublas(cublasStatus_t st, const char* call, const char* file, int line) {
  LORY_FAIL("cuBLAS error ", cublasGetStatusName(st), " (", cublasGetStatusString(st), ") in ",
            call, " at ", file, ":", line,
            ". HINT: check the GEMM's shapes and leading dimensions");
}

bool available() {
  static int count = [] {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
  }();
  return count > 0;
}

namespace {

// Blocks are rounded up to a size class (512 B granularity below 1 MiB, 2 MiB above) and freed
// blocks are kept on a per-class list for reuse.
size_t size_class(size_t bytes) {
  const size_t small = 512, large = size_t{2} << 20;
  return bytes < (size_t{1} << 20) ? (bytes + small - 1) / small * small
                                   : (bytes + large - 1) / large * large;
}

struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_blocks;
};
Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: blocks may be freed during static teardown
  return *c;
}

}  // namespace

void* allocate(size_t bytes) {
  LORY_CHECK(available(), "no CUDA device is present; use device 'cpu'");
  size_t cls = size_class(bytes);
  {
    std::lock_guard<std::mutex> lock(cache().mu);
    auto it = cache().free_blocks.find(cls);
    if (it != cache().free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      return p;
    }
  }
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, cls);
  if (err == cudaErrorMemoryAllocation) {  // give the cached blocks back and retry once
    (void)cudaGetLastError();
    std::lock_guard<std::mutex> lock(cache().mu);
    for (auto& [c, blocks] : cache().free_blocks)
      for (void* b : blocks) cudaFree(b);
    cache().free_blocks.clear();
    err = cudaMalloc(&p, cls);
  }
  CUDA_CHECK(err);
  return p;
}

void deallocate(void* ptr, size_t bytes) {
  std::lock_guard<std::mutex> lock(cache().mu);
  cache().free_blocks[size_class(bytes)].push_back(ptr);
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void copy_device_to_device(void* dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}
void memset_zero(void* ptr, size_t bytes) { CUDA_CHECK(cudaMemset(ptr, 0, bytes)); }

namespace {
template <typename T>
__global__ void accumulate_kernel(T* dst, const T* src, int64_t n) {
  LORY_GRID_STRIDE(i, n) dst[i] = from_acc<T>(to_acc(dst[i]) + to_acc(src[i]));
}
__global__ void accumulate_i32_kernel(int32_t* dst, const int32_t* src, int64_t n) {
  LORY_GRID_STRIDE(i, n) dst[i] += src[i];
}
}  // namespace

void accumulate(DType dtype, void* dst, const void* src, int64_t n) {
  if (n == 0) return;
  if (dtype == DType::i32) {
    accumulate_i32_kernel<<<grid_for(n), kThreads>>>(static_cast<int32_t*>(dst),
                                                     static_cast<const int32_t*>(src), n);
  } else {
    dispatch_cuda_float(dtype, "accumulate_", [&](auto zero) {
      using T = decltype(zero);
      accumulate_kernel<T><<<grid_for(n), kThreads>>>(static_cast<T*>(dst),
                                                      static_cast<const T*>(src), n);
    });
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::cuda
