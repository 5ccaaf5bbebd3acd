// concat: tensors joined along one dim (a copy).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace lory::ops {

// xs[i] (..., n_i, ...) -> (..., sum n_i, ...) along `dim` (negative counts from the end); all
// other dims, the dtype and the device must agree. Any dtype, CPU.
Tensor concat(const std::vector<Tensor>& xs, int dim);

}  // namespace lory::ops
