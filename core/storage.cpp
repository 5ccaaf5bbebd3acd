// Storage and the counting CPU allocator (64-byte aligned, so Eigen and AVX loads are aligned).
#include "core/storage.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

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
    size_t rounded = (bytes + 63) / 64 * 64;
    data_ = rounded ? std::aligned_alloc(64, rounded) : nullptr;
    if (rounded && !data_) throw std::bad_alloc();
  } else {
    data_ = bytes ? cuda::allocate(bytes) : nullptr;
  }
  count_alloc(device, static_cast<int64_t>(bytes));
}

Storage::~Storage() {
  if (device_ == Device::cpu)
    std::free(data_);
  else if (data_)
    cuda::deallocate(data_, bytes_);
  counters(device_).live.fetch_sub(static_cast<int64_t>(bytes_));
}

#ifndef LORY_WITH_CUDA
// Built without CUDA: every device request explains how to get a CUDA build.
namespace cuda {
namespace {
[[noreturn]] void no_cuda() {
  LORY_FAIL("this build of lory has no CUDA backend; reconfigure with -DLORY_CUDA=ON on a machine "
            "with the CUDA toolkit (nvcc) to use device 'cuda'");
}
}  // namespace
bool available() { return false; }
void* allocate(size_t) { no_cuda(); }
void deallocate(void*, size_t) {}
void copy_to_device(void*, const void*, size_t) { no_cuda(); }
void copy_to_host(void*, const void*, size_t) { no_cuda(); }
void copy_device_to_device(void*, const void*, size_t) { no_cuda(); }
void memset_zero(void*, size_t) { no_cuda(); }
void accumulate(DType, void*, const void*, int64_t) { no_cuda(); }
}  // namespace cuda
#endif

}  // namespace lory
