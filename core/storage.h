// Storage: one device buffer shared by tensors (views share it). Every byte is allocated
// through the per-device allocator, which counts live and peak bytes for tests and benchmarks.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace lory {

struct MemoryStats {
  int64_t live_bytes = 0;   // bytes held by storages right now
  int64_t peak_bytes = 0;   // the high-water mark of live_bytes since the last reset
  int64_t allocations = 0;  // number of storages created since the last reset
};

MemoryStats memory_stats(Device device = Device::cpu);
// Sets peak to the current live bytes and zeroes the allocation count.
void reset_peak_memory(Device device = Device::cpu);

class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

// Device memory primitives (core/cuda provides the CUDA side when it is built).
namespace cuda {
bool available();  // built with CUDA and a device is present
void* allocate(size_t bytes);
void deallocate(void* ptr, size_t bytes);
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void copy_device_to_device(void* dst, const void* src, size_t bytes);
void memset_zero(void* ptr, size_t bytes);
void accumulate(DType dtype, void* dst, const void* src, int64_t n);  // dst[i] += src[i]
}  // namespace cuda

}  // namespace lory
