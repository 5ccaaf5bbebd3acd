// cross_entropy: argument checks, fused forward (per-row logsumexp) and fused backward on the CPU.
#include "ops/cross_entropy.h"

#include "ops/vec_math.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/cross_entropy.h"

namespace lory::ops {
namespace {

// Rows are handed to threads only when a loop covers at least this many elements: below it the
// fork costs more than the work. (Rows are independent, so the split never changes results.)
constexpr int64_t kGrainElements = 1 << 14;

// "(b, l)": the multi-index of flat position r in a targets tensor of shape `s`.
std::string position_str(const Shape& s, int64_t r) {
  std::vector<int64_t> idx(static_cast<size_t>(s.rank()));
  for (int d = s.rank() - 1; d >= 0; --d) {
    idx[d] = r % s[d];
    r /= s[d];
  }
  std::ostringstream os;
  os << "(";
  for (size_t d = 0; d < idx.size(); ++d) os << (d ? ", " : "") << idx[d];
  os << ")";
  return os.str();
}

// logits (R, V), targets (R) -> row_max m (R), row_logsum (R), loss_row (R) (0 when ignored).
// The logsumexp is kept split, lse = m + log Σ exp(x - m): with f32 logits near 1e4, a rounded
// lse would be off by ~1e-3 (its ulp) and so would every probability exp(x - lse) in backward,
// whereas x - m is exact there and the log-sum is small.
template <typename T>
void ce_forward_kernel(const T* x, const int32_t* t, T* row_max, T* row_logsum, double* loss_row,
                       int64_t R, int64_t V, int ignore_index) {
  int64_t grain = std::max<int64_t>(1, kGrainElements / V);
  parallel_for(R, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * V;
      const T m = vec::row_max(xr, V);
      const double log_sum = std::log(vec::sum_exp_shifted(xr, m, V));
      row_max[r] = m;
      row_logsum[r] = static_cast<T>(log_sum);
      loss_row[r] = t[r] == ignore_index ? 0.0 : static_cast<double>(m - xr[t[r]]) + log_sum;
    }
  });
}

// Backward. For a non-ignored row, ∂(lse - x_t)/∂x_j = softmax_j - [j = t], and the mean divides
// by n, so dlogits_rj = g/n · (exp(x_rj - lse_r) - [j = t_r]); ignored rows get 0.
template <typename T>
void ce_backward_kernel(const T* x, const int32_t* t, const T* row_max, const T* row_logsum, T* dx,
                        int64_t R, int64_t V, int ignore_index, T g_over_n) {
  int64_t grain = std::max<int64_t>(1, kGrainElements / V);
  parallel_for(R, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * V;
      T* dxr = dx + r * V;
      if (t[r] == ignore_index) {
        std::fill(dxr, dxr + V, T(0));
        continue;
      }
      T m = row_max[r], log_sum = row_logsum[r];
      vec::scaled_exp(xr, m, log_sum, g_over_n, dxr, V);
      dxr[t[r]] -= g_over_n;
    }
  });
}

// The GPU path of cross_entropy (arguments already checked): the same loss, statistics and
// gradient from ops/cuda/cross_entropy.cu. The targets are validated by the forward kernel, which
// reports the first bad one back here (the op's one host synchronisation) for the same error.
Tensor cross_entropy_cuda(const Tensor& logits, const Tensor& targets, int ignore_index, int64_t R,
                          int64_t V) {
  const char* op = "cross_entropy";
  Tensor row_max = Tensor::empty({R}, stats_dtype(logits.dtype()), logits.device());
  Tensor row_logsum = Tensor::empty({R}, stats_dtype(logits.dtype()), logits.device());
  Tensor loss = Tensor::empty({}, logits.dtype(), logits.device());
  int64_t n = 0, bad_row = -1;
  int32_t bad_target = 0;
  cuda::cross_entropy_forward(logits.dtype(), logits.raw_data(), targets.raw_data(),
                              row_max.raw_data(), row_logsum.raw_data(), loss.raw_data(), R, V,
                              ignore_index, &n, &bad_row, &bad_target);
  LORY_CHECK(bad_row < 0, op, ": target at position ", position_str(targets.shape(), bad_row),
             " is ", bad_target, "; expected a class in [0, ", V, ") or ignore_index ",
             ignore_index);
  return record(op, loss, {logits},
                [xs = logits.detach(), ts = targets.clone(), row_max, row_logsum, R, V, n,
                 ignore_index](const Tensor& dloss, const std::vector<bool>&) {
                  Tensor dx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
                  cuda::cross_entropy_backward(xs.dtype(), xs.raw_data(), ts.raw_data(),
                                               row_max.raw_data(), row_logsum.raw_data(),
                                               dloss.raw_data(), dx.raw_data(), R, V,
                                               ignore_index, n);
                  return std::vector<Tensor>{dx};
                });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int ignore_index) {
  const char* op = "cross_entropy";
  check_defined(logits, op, "logits");
  check_defined(targets, op, "targets");
  check_same_device(logits, targets, op, "logits", "targets");
  check_floating(logits, op, "logits");
  check_dtype(targets, DType::i32, op, "targets");
  LORY_CHECK(logits.rank() >= 1 && logits.size(-1) >= 1, op, ": argument 'logits' has shape ",
             logits.shape().str(), "; expected rank >= 1 with a non-empty last dim (..., V)");
  int64_t V = logits.size(-1), R = logits.numel() / V;
  std::vector<int64_t> lead = logits.shape().to_vector();
  lead.pop_back();
  LORY_CHECK(targets.shape() == Shape(lead), op, ": argument 'targets' has shape ",
             targets.shape().str(), "; expected ", Shape(lead).str(), " (the logits' shape ",
             logits.shape().str(), " without its last dim V)");
  if (logits.device() == Device::cuda)
    return cross_entropy_cuda(logits, targets, ignore_index, R, V);

  // Targets are checked before any work: a bad one is a data bug the caller must see.
  const int32_t* t = targets.data<int32_t>();
  int64_t n = 0;
  for (int64_t r = 0; r < R; ++r) {
    if (t[r] == ignore_index) continue;
    LORY_CHECK(t[r] >= 0 && t[r] < V, op, ": target at position ", position_str(targets.shape(), r),
               " is ", t[r], "; expected a class in [0, ", V, ") or ignore_index ", ignore_index);
    ++n;
  }

  Tensor row_max = Tensor::empty({R}, logits.dtype());
  Tensor row_logsum = Tensor::empty({R}, logits.dtype());
  Tensor loss = Tensor::empty({}, logits.dtype());
  std::vector<double> loss_row(static_cast<size_t>(R));
  dispatch_float(logits.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    ce_forward_kernel<T>(logits.data<T>(), t, row_max.data<T>(), row_logsum.data<T>(),
                         loss_row.data(), R, V, ignore_index);
    double total = 0;  // rows summed in order: independent of the thread count
    for (int64_t r = 0; r < R; ++r) total += loss_row[r];
    loss.data<T>()[0] = static_cast<T>(n > 0 ? total / static_cast<double>(n) : 0.0);
  });

  // targets are cloned: a batch buffer reused before backward must not change the gradient.
  return record(op, loss, {logits},
                [xs = logits.detach(), ts = targets.clone(), row_max, row_logsum, R, V, n,
                 ignore_index](const Tensor& dloss, const std::vector<bool>&) {
                  Tensor dx = Tensor::empty(xs.shape(), xs.dtype());
                  dispatch_float(xs.dtype(), "cross_entropy backward", [&](auto zero) {
                    using T = decltype(zero);
                    // n = 0: every row is ignored and the kernel writes zeros.
                    T g_over_n = n > 0 ? static_cast<T>(dloss.data<T>()[0] / n) : T(0);
                    ce_backward_kernel<T>(xs.data<T>(), ts.data<int32_t>(), row_max.data<T>(),
                                          row_logsum.data<T>(), dx.data<T>(), R, V, ignore_index,
                                          g_over_n);
                  });
                  return std::vector<Tensor>{dx};
                });
}

}  // namespace lory::ops
