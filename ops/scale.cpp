// scale: y = alpha * x.  Backward: dx = alpha * dy.
#include "ops/scale.h"

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/scale.h"

namespace lory::ops {
namespace {

template <typename T>
void scale_kernel(const T* x, T* y, int64_t n, T alpha) {
  parallel_for(n, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = alpha * x[i];
  });
}

Tensor scale_forward(const Tensor& x, double alpha) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.device() == Device::cuda) {
    cuda::scale_forward(x.dtype(), x.raw_data(), y.raw_data(), x.numel(), alpha);
    return y;
  }
  dispatch_float(x.dtype(), "scale", [&](auto zero) {
    using T = decltype(zero);
    scale_kernel<T>(x.data<T>(), y.data<T>(), x.numel(), static_cast<T>(alpha));
  });
  return y;
}

}  // namespace

Tensor scale(const Tensor& x, double alpha) {
  check_floating(x, "scale", "x");
  Tensor y = scale_forward(x, alpha);
  return record("scale", y, {x}, [alpha](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{scale_forward(dy, alpha)};
  });
}

}  // namespace lory::ops
