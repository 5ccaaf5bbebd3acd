// narrow (and concat) on the GPU: the one strided block copy both are made of, for any dtype
// (elements moved by size: 2, 4 or 8 bytes).
#pragma once
#include <cstddef>

#include "core/cuda/api.h"

namespace lory::ops::cuda {

// For o in [0, outer), c in [0, n): dst[o·dst_stride + c] = src[o·src_stride + c]. Strides and
// n count elements of elem_size bytes; src and dst are device pointers.
LORY_CUDA_API(copy_blocks(size_t elem_size, const void* src, int64_t src_stride, void* dst,
                          int64_t dst_stride, int64_t outer, int64_t n))

}  // namespace lory::ops::cuda
