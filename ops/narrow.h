// narrow: a copy of the slice [start, start + length) of one dim.
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (..., n, ...) -> (..., length, ...) along `dim` (negative counts from the end);
// 0 <= start, start + length <= n. Any dtype, CPU.
Tensor narrow(const Tensor& x, int dim, int64_t start, int64_t length);

}  // namespace lory::ops
