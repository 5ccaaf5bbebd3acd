// scale: y = alpha * x, any shape.
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (...) -> (...)
Tensor scale(const Tensor& x, double alpha);

}  // namespace lory::ops
