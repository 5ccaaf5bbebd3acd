// The CUDA side of the core: error reporting, the caching allocator (size-class free lists:
// cudaMalloc per step would dominate), copies on the one stream, and gradient accumulation.
#include <cstdio>
#include <map>
#include <mutex>
#include <vector>

#include "core/cuda/check.h"
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
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] += src[i];
}
}  // namespace

void accumulate(DType dtype, void* dst, const void* src, int64_t n) {
  if (n == 0) return;
  int threads = 256;
  int blocks = static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 65535));
  switch (dtype) {
    case DType::f32:
      accumulate_kernel<<<blocks, threads>>>(static_cast<float*>(dst),
                                             static_cast<const float*>(src), n);
      break;
    case DType::f64:
      accumulate_kernel<<<blocks, threads>>>(static_cast<double*>(dst),
                                             static_cast<const double*>(src), n);
      break;
    case DType::i32:
      accumulate_kernel<<<blocks, threads>>>(static_cast<int32_t*>(dst),
                                             static_cast<const int32_t*>(src), n);
      break;
    case DType::bf16:
      LORY_FAIL("accumulate_: bf16 gradients are not accumulated; keep fp32 master gradients");
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::cuda
