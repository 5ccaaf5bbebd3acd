// Storage and the counting CPU allocator (64-byte aligned, so Eigen and AVX loads are aligned,
// with a cache of large blocks).
#include "core/storage.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/cuda/api.h"
#include "core/error.h"

namespace lory {
namespace {

struct Counters {
  std::atomic<int64_t> live{0}, peak{0}, allocations{0};
};
Counters& counters(Device d) {
  static Counters cpu, gpu;
  return d == Device::cpu ? cpu : gpu;
}

void count_alloc(Device d, int64_t bytes) {
  Counters& c = counters(d);
  int64_t now = c.live.fetch_add(bytes) + bytes;
  int64_t peak = c.peak.load();
  while (now > peak && !c.peak.compare_exchange_weak(peak, now)) {
  }
  c.allocations.fetch_add(1);
}

// Large CPU blocks are cached by exact (page-rounded) size and reused: a training step
// allocates the same sizes every step, and fresh pages from the OS cost a page fault each (and
// come zeroed), which made large element-wise ops several times slower than the memory allows.
// The cache holds at most 1 GiB (environment LORY_CPU_CACHE_MB overrides; 0 turns it off);
// MemoryStats counts live tensor bytes only.
constexpr size_t kCacheMinBytes = size_t{64} << 10;

size_t cache_cap() {
  static const size_t cap = [] {
    const char* env = std::getenv("LORY_CPU_CACHE_MB");
    return env ? static_cast<size_t>(std::strtoull(env, nullptr, 10)) << 20 : size_t{1} << 30;
  }();
  return cap;
}

struct CpuCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  size_t cached_bytes = 0;
};
CpuCache& cpu_cache() {
  static CpuCache* c = new CpuCache();  // never destroyed: storages may die during teardown
  return *c;
}

size_t cpu_block_size(size_t bytes) {
  return bytes < kCacheMinBytes ? (bytes + 63) / 64 * 64 : (bytes + 4095) / 4096 * 4096;
}

void* cpu_allocate(size_t bytes) {
  const size_t size = cpu_block_size(bytes);
  if (size == 0) return nullptr;
  if (size >= kCacheMinBytes) {
    CpuCache& c = cpu_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached_bytes -= size;
      return p;
    }
  }
  void* p = std::aligned_alloc(64, size);
  if (!p) throw std::bad_alloc();
  return p;
}

void cpu_deallocate(void* p, size_t bytes) {
  const size_t size = cpu_block_size(bytes);
  if (size >= kCacheMinBytes) {
    CpuCache& c = cpu_cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.cached_bytes + size <= cache_cap()) {
      c.free_blocks[size].push_back(p);
      c.cached_bytes += size;
      return;
    }
  }
  std::free(p);
}

}  // namespace

MemoryStats memory_stats(Device device) {
  Counters& c = counters(device);
  return {c.live.load(), c.peak.load(), c.allocations.load()};
}

void reset_peak_memory(Device device) {
  Counters& c = counters(device);
  c.peak.store(c.live.load());
  c.allocations.store(0);
}

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (device == Device::cpu) {
    data_ = cpu_allocate(bytes);
  } else {
    data_ = bytes ? cuda::allocate(bytes) : nullptr;
  }
  count_alloc(device, static_cast<int64_t>(bytes));
}

Storage::~Storage() {
  if (device_ == Device::cpu)
    cpu_deallocate(data_, bytes_);
  else if (data_)
    cuda::deallocate(data_, bytes_);
  counters(device_).live.fetch_sub(static_cast<int64_t>(bytes_));
}

namespace cuda {
void not_built() {
  LORY_FAIL("this build of lory has no CUDA backend; reconfigure with -DLORY_CUDA=ON on a machine "
            "with the CUDA toolkit (nvcc) to use device 'cuda'");
}
}  // namespace cuda

#ifndef LORY_WITH_CUDA
// Built without CUDA: every device request explains how to get a CUDA build.
namespace cuda {
bool available() { return false; }
void* allocate(size_t) { not_built(); }
void deallocate(void*, size_t) {}
void copy_to_device(void*, const void*, size_t) { not_built(); }
void copy_to_host(void*, const void*, size_t) { not_built(); }
void copy_device_to_device(void*, const void*, size_t) { not_built(); }
void memset_zero(void*, size_t) { not_built(); }
void accumulate(DType, void*, const void*, int64_t) { not_built(); }
}  // namespace cuda
#endif

}  // namespace lory
