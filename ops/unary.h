// Element-wise neg, exp, log, sqrt, square.
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (...) -> (...)
Tensor neg(const Tensor& x);     // -x
Tensor exp(const Tensor& x);     // e^x
Tensor log(const Tensor& x);     // ln x; the domain (x > 0) is the caller's business: no check,
                                 // x = 0 gives -inf and x < 0 NaN, with gradients 1/x
Tensor sqrt(const Tensor& x);    // sqrt x; likewise for x >= 0 (x = 0 has an infinite gradient)
Tensor square(const Tensor& x);  // x^2

}  // namespace lory::ops
