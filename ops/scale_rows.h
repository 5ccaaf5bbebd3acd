// scale_rows: multiplies each row of x by its own scalar (router weights times expert outputs).
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (M,D), s (M) -> (M,D): y[m,:] = s[m] · x[m,:]
Tensor scale_rows(const Tensor& x, const Tensor& s);

}  // namespace lory::ops
