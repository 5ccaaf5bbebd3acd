// reshape: a view with a new shape. Backward: the gradient, reshaped back (dx = dy viewed as x).
#include "ops/reshape.h"

#include "core/autograd.h"

namespace lory::ops {

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined(x, "reshape", "x");
  LORY_CHECK(shape.numel() == x.numel(), "reshape: cannot reshape x ", x.shape().str(), " (",
             x.numel(), " elements) to ", shape.str(), " (", shape.numel(),
             " elements); expected the same number of elements");
  Shape x_shape = x.shape();
  return record("reshape", x.view(shape), {x},
                [x_shape](const Tensor& dy, const std::vector<bool>&) {
                  return std::vector<Tensor>{dy.view(x_shape)};
                });
}

Tensor reshape(const Tensor& x, const std::vector<int64_t>& shape) {
  check_defined(x, "reshape", "x");
  auto shape_str = [&] {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + ")";
  };
  int inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      LORY_CHECK(inferred < 0, "reshape: shape ", shape_str(), " has more than one -1");
      inferred = static_cast<int>(i);
    } else {
      LORY_CHECK(shape[i] >= 0, "reshape: shape ", shape_str(), " has dim ", i, " = ", shape[i],
                 "; expected a size >= 0 or -1 (inferred)");
      known *= shape[i];
    }
  }
  std::vector<int64_t> dims = shape;
  if (inferred >= 0) {
    LORY_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot reshape x ", x.shape().str(),
               " (", x.numel(), " elements) to ", shape_str(), ": the -1 cannot be inferred");
    dims[inferred] = x.numel() / known;
  }
  return reshape(x, Shape(dims));
}

Tensor reshape(const Tensor& x, std::initializer_list<int64_t> shape) {
  return reshape(x, std::vector<int64_t>(shape));
}

}  // namespace lory::ops
