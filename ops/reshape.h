// reshape: the same elements under a new shape; shares storage with its input (no copy).
#pragma once
#include <initializer_list>
#include <vector>

#include "core/tensor.h"

namespace lory::ops {

// x (...) -> shape, with shape.numel() == x.numel(). Any dtype and device.
Tensor reshape(const Tensor& x, const Shape& shape);
// As above; one entry may be -1, inferred from the others: reshape(x, {-1, D}).
Tensor reshape(const Tensor& x, const std::vector<int64_t>& shape);
Tensor reshape(const Tensor& x, std::initializer_list<int64_t> shape);

}  // namespace lory::ops
