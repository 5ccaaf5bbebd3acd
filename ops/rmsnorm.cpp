// rmsnorm: fused forward (saves rstd per row) and fused backward (dx, dweight) on the CPU.
#include "ops/rmsnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/rmsnorm.h"

namespace lory::ops {
namespace {

// dweight is reduced over rows in blocks of this many rows: one partial row per block, the
// partials added in block order. Fixed, so the sum never depends on the thread count.
constexpr int64_t kRowBlock = 64;

// Rows are handed to threads only when a loop covers at least this many elements: below it the
// fork costs more than the work. (Rows and row blocks are independent: the split never changes
// results.)
constexpr int64_t kGrainElements = 1 << 14;

// Σ_j a_j·b_j·c_j (c may be null: Σ_j a_j·b_j) in double, in kLanes running sums (lane l takes
// j ≡ l mod kLanes) added in a fixed order: independent chains that vectorise, where one sum waits
// on each add. A function of its own: written inline in the kernels' lambdas, GCC left the loop
// scalar.
template <typename T>
double dot_lanes(const T* __restrict a, const T* __restrict b, const T* __restrict c, int64_t n) {
  constexpr int64_t kLanes = 8;
  double lanes[kLanes] = {};
  int64_t j = 0;
  if (c) {
    for (; j + kLanes <= n; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l)
        lanes[l] += static_cast<double>(a[j + l]) * b[j + l] * c[j + l];
    for (; j < n; ++j) lanes[j % kLanes] += static_cast<double>(a[j]) * b[j] * c[j];
  } else {
    for (; j + kLanes <= n; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) lanes[l] += static_cast<double>(a[j + l]) * b[j + l];
    for (; j < n; ++j) lanes[j % kLanes] += static_cast<double>(a[j]) * b[j];
  }
  double sum = 0;
  for (double lane : lanes) sum += lane;
  return sum;
}

// x, y (R, D); w (D); rstd (R).  Sums of squares accumulate in double.
template <typename T>
void rmsnorm_forward_kernel(const T* x, const T* w, T* y, T* rstd, int64_t R, int64_t D,
                            double eps) {
  int64_t grain = std::max<int64_t>(1, kGrainElements / D);
  parallel_for(R, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * D;
      const double ss = dot_lanes<T>(xr, xr, nullptr, D);
      T rs = static_cast<T>(1.0 / std::sqrt(ss / static_cast<double>(D) + eps));
      rstd[r] = rs;
      T* yr = y + r * D;
      for (int64_t j = 0; j < D; ++j) yr[j] = xr[j] * rs * w[j];
    }
  });
}

// Backward. With r = (mean(x²) + eps)^(-1/2) and y_j = x_j r w_j:
//   ∂r/∂x_k = -½ (mean(x²) + eps)^(-3/2) · 2 x_k / D = -r³ x_k / D, so
//   dx_k = dy_k w_k r + Σ_j dy_j w_j x_j · (-r³ x_k / D)
//        = r · (dy_k w_k - x_k · r² · (1/D) Σ_j dy_j w_j x_j)
//   dw_j = Σ_rows dy_j x_j r.
template <typename T>
void rmsnorm_backward_kernel(const T* x, const T* w, const T* rstd, const T* dy, T* dx, T* dw,
                             int64_t R, int64_t D) {
  int64_t nblocks = (R + kRowBlock - 1) / kRowBlock;
  std::vector<T> partial(dw ? static_cast<size_t>(nblocks * D) : 0, T(0));
  int64_t grain = std::max<int64_t>(1, kGrainElements / (kRowBlock * D));
  parallel_for(nblocks, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      T* pw = dw ? partial.data() + blk * D : nullptr;
      int64_t r_end = std::min(R, (blk + 1) * kRowBlock);
      for (int64_t r = blk * kRowBlock; r < r_end; ++r) {
        const T* xr = x + r * D;
        const T* dyr = dy + r * D;
        T rs = rstd[r];
        if (pw)
          for (int64_t j = 0; j < D; ++j) pw[j] += dyr[j] * xr[j] * rs;
        if (!dx) continue;
        const double dot = dot_lanes<T>(dyr, w, xr, D);  // Σ_j dy_j w_j x_j
        T c = static_cast<T>(dot / static_cast<double>(D)) * rs * rs;
        T* dxr = dx + r * D;
        for (int64_t j = 0; j < D; ++j) dxr[j] = rs * (dyr[j] * w[j] - xr[j] * c);
      }
    }
  });
  if (!dw) return;
  parallel_for(D, kGrainElements / 16, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      T s = 0;
      for (int64_t blk = 0; blk < nblocks; ++blk) s += partial[blk * D + j];
      dw[j] = s;
    }
  });
}

}  // namespace

Tensor rmsnorm(const Tensor& x, const Tensor& weight, double eps) {
  const char* op = "rmsnorm";
  check_floating(x, op, "x");
  check_same_dtype(x, weight, op, "x", "weight");
  check_same_device(x, weight, op, "x", "weight");
  LORY_CHECK(x.rank() >= 1, op, ": argument 'x' has shape ", x.shape().str(),
             "; expected rank >= 1 (..., D)");
  int64_t D = x.size(-1);
  LORY_CHECK(weight.rank() == 1 && weight.size(0) == D, op, ": argument 'weight' has shape ",
             weight.shape().str(), "; expected ", Shape{D}.str(), " to match the last dim of x ",
             x.shape().str());
  LORY_CHECK(D >= 1, op, ": argument 'x' has shape ", x.shape().str(), "; expected D >= 1");
  LORY_CHECK(eps >= 0, op, ": eps is ", eps, "; expected eps >= 0");
  int64_t R = x.numel() / D;

  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor rstd = Tensor::empty({R}, stats_dtype(x.dtype()), x.device());
  if (x.device() == Device::cuda) {
    cuda::rmsnorm_forward(x.dtype(), x.raw_data(), weight.raw_data(), y.raw_data(),
                          rstd.raw_data(), R, D, eps);
  } else {
    dispatch_float(x.dtype(), op, [&](auto zero) {
      using T = decltype(zero);
      rmsnorm_forward_kernel<T>(x.data<T>(), weight.data<T>(), y.data<T>(), rstd.data<T>(), R, D,
                                eps);
    });
  }
  return record(op, y, {x, weight},
                [xs = x.detach(), ws = weight.detach(), rstd, R, D](
                    const Tensor& dy, const std::vector<bool>& needs) {
                  Tensor dx, dw;
                  if (needs[0]) dx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
                  if (needs[1]) dw = Tensor::empty(ws.shape(), ws.dtype(), ws.device());
                  if (xs.device() == Device::cuda) {
                    cuda::rmsnorm_backward(xs.dtype(), xs.raw_data(), ws.raw_data(),
                                           rstd.raw_data(), dy.raw_data(),
                                           needs[0] ? dx.raw_data() : nullptr,
                                           needs[1] ? dw.raw_data() : nullptr, R, D);
                    return std::vector<Tensor>{dx, dw};
                  }
                  dispatch_float(xs.dtype(), "rmsnorm backward", [&](auto zero) {
                    using T = decltype(zero);
                    rmsnorm_backward_kernel<T>(xs.data<T>(), ws.data<T>(), rstd.data<T>(),
                                               dy.data<T>(), needs[0] ? dx.data<T>() : nullptr,
                                               needs[1] ? dw.data<T>() : nullptr, R, D);
                  });
                  return std::vector<Tensor>{dx, dw};
                });
}

}  // namespace lory::ops
