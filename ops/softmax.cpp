// softmax / log_softmax over the last dim: CPU kernels, one row at a time, and their backward.
#include "ops/softmax.h"

#include "ops/vec_math.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/softmax.h"

namespace lory::ops {
namespace {

// Rows are handed to threads only when a loop covers at least this many elements: below it the
// fork costs more than the work. (Rows are independent, so the split never changes results.)
constexpr int64_t kGrainElements = 1 << 14;

// x, y (R, V). Subtracting the row max m keeps every exp() in (0, 1]: no overflow for large
// logits, and the largest term is exactly 1 so the sum is >= 1 (no underflow to 0 either).
template <typename T>
void softmax_forward_kernel(const T* x, T* y, int64_t R, int64_t V, bool log) {
  int64_t grain = std::max<int64_t>(1, kGrainElements / V);
  parallel_for(R, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * V;
      T* yr = y + r * V;
      const T m = vec::row_max(xr, V);
      const double sum = vec::exp_shifted(xr, m, yr, V);  // exp in T, accumulated in double
      if (log) {
        T lse = static_cast<T>(std::log(sum));
        for (int64_t j = 0; j < V; ++j) yr[j] = (xr[j] - m) - lse;
      } else {
        T inv = static_cast<T>(1.0 / sum);
        for (int64_t j = 0; j < V; ++j) yr[j] *= inv;
      }
    }
  });
}

// Backward, with y the saved output and s_j = softmax_j:
//   softmax:      ∂y_j/∂x_k = y_j (δ_jk - y_k)  =>  dx_k = y_k (dy_k - Σ_j dy_j y_j)
//   log_softmax:  ∂y_j/∂x_k = δ_jk - s_k        =>  dx_k = dy_k - exp(y_k) Σ_j dy_j
template <typename T>
void softmax_backward_kernel(const T* y, const T* dy, T* dx, int64_t R, int64_t V, bool log) {
  int64_t grain = std::max<int64_t>(1, kGrainElements / V);
  parallel_for(R, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* yr = y + r * V;
      const T* dyr = dy + r * V;
      T* dxr = dx + r * V;
      double acc = 0;
      if (log) {
        for (int64_t j = 0; j < V; ++j) acc += dyr[j];
        T s = static_cast<T>(acc);
        vec::scaled_exp(yr, T(0), T(0), static_cast<T>(s), dxr, V);  // exp(y_j)·s
        for (int64_t j = 0; j < V; ++j) dxr[j] = dyr[j] - dxr[j];
      } else {
        for (int64_t j = 0; j < V; ++j) acc += static_cast<double>(dyr[j]) * yr[j];
        T s = static_cast<T>(acc);
        for (int64_t j = 0; j < V; ++j) dxr[j] = yr[j] * (dyr[j] - s);
      }
    }
  });
}

Tensor softmax_impl(const Tensor& x, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_floating(x, op, "x");
  LORY_CHECK(x.rank() >= 1 && x.size(-1) >= 1, op, ": argument 'x' has shape ", x.shape().str(),
             "; expected rank >= 1 with a non-empty last dim (..., V)");
  int64_t V = x.size(-1), R = x.numel() / V;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.device() == Device::cuda) {
    cuda::softmax_forward(x.dtype(), x.raw_data(), y.raw_data(), R, V, log);
  } else {
    dispatch_float(x.dtype(), op, [&](auto zero) {
      using T = decltype(zero);
      softmax_forward_kernel<T>(x.data<T>(), y.data<T>(), R, V, log);
    });
  }
  return record(op, y, {x},
                [ys = y.detach(), R, V, log](const Tensor& dy, const std::vector<bool>&) {
                  Tensor dx = Tensor::empty(ys.shape(), ys.dtype(), ys.device());
                  if (ys.device() == Device::cuda) {
                    cuda::softmax_backward(ys.dtype(), ys.raw_data(), dy.raw_data(), dx.raw_data(),
                                           R, V, log);
                    return std::vector<Tensor>{dx};
                  }
                  dispatch_float(ys.dtype(), "softmax backward", [&](auto zero) {
                    using T = decltype(zero);
                    softmax_backward_kernel<T>(ys.data<T>(), dy.data<T>(), dx.data<T>(), R, V, log);
                  });
                  return std::vector<Tensor>{dx};
                });
}

}  // namespace

Tensor softmax(const Tensor& x) {
  return softmax_impl(x, false);
}
Tensor log_softmax(const Tensor& x) {
  return softmax_impl(x, true);
}

}  // namespace lory::ops
