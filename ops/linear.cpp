// linear: y = x·W as a matmul (its backward is matmul's: dx = dy·Wᵀ, dW = xᵀ·dy over all rows).
#include "ops/linear.h"

#include "ops/matmul.h"
#include "ops/reshape.h"

namespace lory::ops {

Tensor linear(const Tensor& x, const Tensor& w) {
  check_defined(x, "linear", "x");
  check_defined(w, "linear", "w");
  LORY_CHECK(w.rank() == 2, "linear: argument 'w' has shape ", w.shape().str(),
             "; expected (In, Out)");
  LORY_CHECK(x.rank() >= 1 && x.size(-1) == w.size(0), "linear: x has shape ", x.shape().str(),
             " but w has shape ", w.shape().str(), "; expected x (..., In) with In = ", w.size(0),
             " (w is stored (In, Out))");
  if (x.rank() == 1) return reshape(matmul(reshape(x, {1, x.size(0)}), w), {w.size(1)});
  return matmul(x, w);
}

}  // namespace lory::ops
