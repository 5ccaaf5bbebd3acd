// permute on the GPU: the launcher for ops/transpose.cpp, for any dtype (elements moved by size:
// 2, 4 or 8 bytes). It takes the problem after ops/transpose.cpp's simplification: size-1 dims
// dropped and dims that stay adjacent merged.
#pragma once
#include <cstddef>

#include "core/cuda/api.h"

namespace lory::ops::cuda {

// x is row-major with sizes size[0..rank) (rank <= 6, 0 allowed for a single element); y gets
// output dim i = input dim perm[i]. x and y are device pointers.
LORY_CUDA_API(permute_copy(size_t elem_size, const void* x, void* y, int rank, const int64_t* size,
                           const int* perm))

}  // namespace lory::ops::cuda
