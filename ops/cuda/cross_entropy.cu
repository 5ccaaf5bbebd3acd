// cross_entropy CUDA kernels. Forward: one block per row finds the row's max and log Σ exp in one
// online pass and its loss; one block then adds the row losses in a fixed order (deterministic
// mean). Backward: one block per row writes dlogits in one pass. Nothing V-sized is stored.
#include "core/storage.h"
#include "ops/cuda/cross_entropy.h"
#include "ops/cuda/row_softmax.cuh"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

// Row status written by the forward row kernel for the reduction.
constexpr int kIgnored = 0, kCounted = 1, kBadTarget = -1;
constexpr int kReduceThreads = 256;

// loss_r = lse_r - x_r[t_r] = (m_r - x_r[t_r]) + log s_r, kept split as on the CPU: m - x_t is
// exact and log s is small, so large logits lose nothing to the rounding of lse.
template <typename T>
__global__ void forward_row_kernel(const T* x, const int32_t* t, acc_t<T>* row_max,
                                   acc_t<T>* row_logsum, double* loss_row, int* status, int64_t V,
                                   int ignore_index) {
  using A = acc_t<T>;
  __shared__ A scratch[32];
  const int64_t r = blockIdx.x;
  const T* xr = x + r * V;
  A m, s;
  row_max_sumexp(xr, V, scratch, m, s);
  if (threadIdx.x != 0) return;
  A log_s = log(s);
  row_max[r] = m;
  row_logsum[r] = log_s;
  const int32_t tr = t[r];
  if (tr == ignore_index) {
    loss_row[r] = 0;
    status[r] = kIgnored;
  } else if (tr < 0 || tr >= V) {  // never read x_r[t_r] out of bounds
    loss_row[r] = 0;
    status[r] = kBadTarget;
  } else {
    loss_row[r] = static_cast<double>(m - to_acc(xr[tr])) + static_cast<double>(log_s);
    status[r] = kCounted;
  }
}

// One block of kReduceThreads. Thread k takes the contiguous rows [k·chunk, (k+1)·chunk) and sums
// their losses in row order; thread 0 then adds the partials in k order. The grouping depends only
// on R, so the mean is the same on every run. info = {n, first bad row or -1, its target}.
template <typename T>
__global__ void reduce_kernel(const double* loss_row, const int* status, const int32_t* t,
                              int64_t R, T* loss, int64_t* info) {
  __shared__ double part_sum[kReduceThreads];
  __shared__ int64_t part_n[kReduceThreads];
  __shared__ int64_t part_bad[kReduceThreads];
  const int k = threadIdx.x;
  const int64_t chunk = (R + kReduceThreads - 1) / kReduceThreads;
  const int64_t r0 = k * chunk, r1 = min(R, r0 + chunk);
  double sum = 0;
  int64_t n = 0, bad = -1;
  for (int64_t r = r0; r < r1; ++r) {
    if (status[r] == kCounted) {
      sum += loss_row[r];
      ++n;
    } else if (status[r] == kBadTarget && bad < 0) {
      bad = r;
    }
  }
  part_sum[k] = sum;
  part_n[k] = n;
  part_bad[k] = bad;
  __syncthreads();
  if (k != 0) return;
  double total = 0;
  int64_t count = 0, first_bad = -1;
  for (int i = 0; i < kReduceThreads; ++i) {
    total += part_sum[i];
    count += part_n[i];
    if (first_bad < 0) first_bad = part_bad[i];
  }
  // n = 0 (every row ignored): the loss is 0, not 0/0.
  const double mean = count > 0 ? total / static_cast<double>(count) : 0.0;
  loss[0] = from_acc<T>(static_cast<acc_t<T>>(mean));
  info[0] = count;
  info[1] = first_bad;
  info[2] = first_bad >= 0 ? t[first_bad] : 0;
}

// dlogits_rj = g/n · (exp((x_rj - m_r) - log s_r) - [j = t_r]); 0 on ignored rows. Every
// non-ignored target was checked in forward, so n > 0 and t_r is in [0, V) here.
template <typename T>
__global__ void backward_kernel(const T* x, const int32_t* t, const acc_t<T>* row_max,
                                const acc_t<T>* row_logsum, const T* dloss, T* dx, int64_t V,
                                int ignore_index, int64_t n) {
  using A = acc_t<T>;
  const int64_t r = blockIdx.x;
  const int32_t tr = t[r];
  T* dxr = dx + r * V;
  if (tr == ignore_index) {
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) dxr[j] = from_acc<T>(A(0));
    return;
  }
  const T* xr = x + r * V;
  const A g_over_n = to_acc(dloss[0]) / static_cast<A>(n);
  const A m = row_max[r], log_s = row_logsum[r];
  for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
    A v = exp((to_acc(xr[j]) - m) - log_s) * g_over_n;
    if (j == tr) v -= g_over_n;
    dxr[j] = from_acc<T>(v);
  }
}

}  // namespace

void cross_entropy_forward(DType dt, const void* logits, const void* targets, void* row_max,
                           void* row_logsum, void* loss, int64_t R, int64_t V, int ignore_index,
                           int64_t* n, int64_t* bad_row, int32_t* bad_target) {
  Scratch<double> loss_row(R);
  Scratch<int> status(R);
  Scratch<int64_t> info(3);
  auto ts = static_cast<const int32_t*>(targets);
  dispatch_cuda_float(dt, "cross_entropy", [&](auto zero) {
    using T = decltype(zero);
    using A = acc_t<T>;
    if (R > 0) {
      forward_row_kernel<T><<<R, softmax_row_threads(V)>>>(
          static_cast<const T*>(logits), ts, static_cast<A*>(row_max), static_cast<A*>(row_logsum),
          loss_row.get(), status.get(), V, ignore_index);
      CUDA_CHECK_LAUNCH();
    }
    reduce_kernel<T><<<1, kReduceThreads>>>(loss_row.get(), status.get(), ts, R,
                                            static_cast<T*>(loss), info.get());
    CUDA_CHECK_LAUNCH();
  });
  int64_t host[3];
  copy_to_host(host, info.get(), sizeof(host));
  *n = host[0];
  *bad_row = host[1];
  *bad_target = static_cast<int32_t>(host[2]);
}

void cross_entropy_backward(DType dt, const void* logits, const void* targets, const void* row_max,
                            const void* row_logsum, const void* dloss, void* dlogits, int64_t R,
                            int64_t V, int ignore_index, int64_t n) {
  if (R == 0) return;
  dispatch_cuda_float(dt, "cross_entropy backward", [&](auto zero) {
    using T = decltype(zero);
    using A = acc_t<T>;
    backward_kernel<T><<<R, softmax_row_threads(V)>>>(
        static_cast<const T*>(logits), static_cast<const int32_t*>(targets),
        static_cast<const A*>(row_max), static_cast<const A*>(row_logsum),
        static_cast<const T*>(dloss), static_cast<T*>(dlogits), V, ignore_index, n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
