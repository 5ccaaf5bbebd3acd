// segment_mean: CPU kernels for the segment average and its backward (a scaled broadcast).
#include "ops/segment_mean.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/segment_mean.h"

namespace lory::ops {
namespace {

// Rows are handed to threads only when a loop covers at least this many elements: below it the
// fork costs more than the work. (Rows are independent, so the split never changes results.)
constexpr int64_t kGrainElements = 1 << 14;

// x (B, L, D) -> y (B, N, D). One (b, k) output row per iteration; tokens added in order.
template <typename S>
void segment_mean_forward_kernel(const S* x, S* y, int64_t B, int64_t L, int64_t D, int64_t T) {
  int64_t N = (L + T - 1) / T;
  int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, T * D));
  parallel_for(B * N, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      int64_t b = row / N, k = row % N;
      int64_t t0 = k * T, t1 = std::min(L, t0 + T);
      S* yr = y + row * D;
      std::fill(yr, yr + D, S(0));
      for (int64_t t = t0; t < t1; ++t) {
        const S* xr = x + (b * L + t) * D;
        for (int64_t j = 0; j < D; ++j) yr[j] += xr[j];
      }
      S inv = S(1) / static_cast<S>(t1 - t0);
      for (int64_t j = 0; j < D; ++j) yr[j] *= inv;
    }
  });
}

// Backward: ∂y[b,k,j]/∂x[b,t,j] = 1/c_k for t in segment k, so dx[b,t] = dy[b, t/T] / c_{t/T}.
template <typename S>
void segment_mean_backward_kernel(const S* dy, S* dx, int64_t B, int64_t L, int64_t D, int64_t T) {
  int64_t N = (L + T - 1) / T;
  int64_t grain = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, D));
  parallel_for(B * L, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      int64_t b = row / L, k = (row % L) / T;
      S inv = S(1) / static_cast<S>(std::min(L, (k + 1) * T) - k * T);
      const S* dyr = dy + (b * N + k) * D;
      S* dxr = dx + row * D;
      for (int64_t j = 0; j < D; ++j) dxr[j] = dyr[j] * inv;
    }
  });
}

}  // namespace

Tensor segment_mean(const Tensor& x, int64_t T) {
  const char* op = "segment_mean";
  check_floating(x, op, "x");
  check_rank(x, 3, op, "x");
  LORY_CHECK(T >= 1, op, ": segment length T is ", T, "; expected T >= 1");
  int64_t B = x.size(0), L = x.size(1), D = x.size(2), N = (L + T - 1) / T;
  Tensor y = Tensor::empty({B, N, D}, x.dtype(), x.device());
  if (x.device() == Device::cuda) {
    cuda::segment_mean_forward(x.dtype(), x.raw_data(), y.raw_data(), B, L, D, T);
  } else {
    dispatch_float(x.dtype(), op, [&](auto zero) {
      using S = decltype(zero);
      segment_mean_forward_kernel<S>(x.data<S>(), y.data<S>(), B, L, D, T);
    });
  }
  return record(op, y, {x},
                [B, L, D, T, dtype = x.dtype()](const Tensor& dy, const std::vector<bool>&) {
                  Tensor dx = Tensor::empty({B, L, D}, dtype, dy.device());
                  if (dy.device() == Device::cuda) {
                    cuda::segment_mean_backward(dtype, dy.raw_data(), dx.raw_data(), B, L, D, T);
                    return std::vector<Tensor>{dx};
                  }
                  dispatch_float(dtype, "segment_mean backward", [&](auto zero) {
                    using S = decltype(zero);
                    segment_mean_backward_kernel<S>(dy.data<S>(), dx.data<S>(), B, L, D, T);
                  });
                  return std::vector<Tensor>{dx};
                });
}

}  // namespace lory::ops
