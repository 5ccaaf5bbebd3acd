// Strided block copy for narrow, its backward and concat: one thread per element (grid-stride),
// consecutive threads on consecutive elements of a block so reads and writes coalesce.
#include "core/cuda/device.cuh"
#include "ops/cuda/narrow.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

template <typename E>
__global__ void copy_blocks_kernel(const E* src, int64_t src_stride, E* dst, int64_t dst_stride,
                                   int64_t outer, int64_t n) {
  LORY_GRID_STRIDE(i, outer * n) {
    int64_t o = i / n, c = i - o * n;
    dst[o * dst_stride + c] = src[o * src_stride + c];
  }
}

template <typename E>
void launch(const void* src, int64_t src_stride, void* dst, int64_t dst_stride, int64_t outer,
            int64_t n) {
  copy_blocks_kernel<E><<<grid_for(outer * n), kThreads>>>(
      static_cast<const E*>(src), src_stride, static_cast<E*>(dst), dst_stride, outer, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void copy_blocks(size_t elem_size, const void* src, int64_t src_stride, void* dst,
                 int64_t dst_stride, int64_t outer, int64_t n) {
  if (outer <= 0 || n <= 0) return;
  switch (elem_size) {
    case 2:
      launch<uint16_t>(src, src_stride, dst, dst_stride, outer, n);
      break;
    case 4:
      launch<uint32_t>(src, src_stride, dst, dst_stride, outer, n);
      break;
    case 8:
      launch<uint64_t>(src, src_stride, dst, dst_stride, outer, n);
      break;
    default:
      LORY_FAIL("copy_blocks: element size ", elem_size, " is not supported; expected 2, 4 or 8");
  }
}

}  // namespace lory::ops::cuda
