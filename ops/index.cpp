// index_select_rows / index_add_rows / take_along_last / topk_indices.
// The two row ops are each other's adjoint: the gradient of a gather is a scatter-add and the
// gradient of a scatter-add is a gather. Scatter-adds are deterministic: rows are grouped by
// destination in index order (a counting sort), then each destination row is summed by one
// thread in that order.
#include "ops/index.h"

#include <algorithm>
#include <numeric>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/index.h"
#include "ops/cuda/row_groups.h"

namespace lory::ops {
namespace {

void check_indices(const Tensor& idx, int64_t bound, const char* op) {
  check_dtype(idx, DType::i32, op, "idx");
  check_cpu(idx, op, "idx");
  const int32_t* p = idx.data<int32_t>();
  for (int64_t k = 0; k < idx.numel(); ++k)
    LORY_CHECK(p[k] >= 0 && p[k] < bound, op, ": idx[", k, "] is ", p[k], "; expected 0..",
               bound - 1);
}

Tensor gather_rows(const Tensor& x, const Tensor& idx) {
  const int64_t K = idx.numel(), D = x.size(1);
  Tensor y = Tensor::empty({K, D}, x.dtype());
  const size_t row_bytes = D * dtype_size(x.dtype());
  const int32_t* ip = idx.data<int32_t>();
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(y.raw_data());
  parallel_for(K, 64, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) std::copy_n(src + ip[k] * row_bytes, row_bytes, dst + k * row_bytes);
  });
  return y;
}

Tensor scatter_add_rows(const Tensor& src, const Tensor& idx, int64_t M) {
  const int64_t K = idx.numel(), D = src.size(1);
  const int32_t* ip = idx.data<int32_t>();
  std::vector<int64_t> start(M + 1, 0), order(K);  // sources grouped by destination
  for (int64_t k = 0; k < K; ++k) ++start[ip[k] + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (int64_t k = 0; k < K; ++k) order[fill[ip[k]]++] = k;
  Tensor y = Tensor::zeros({M, D}, src.dtype());
  dispatch_float(src.dtype(), "index_add_rows", [&](auto zero) {
    using T = decltype(zero);
    const T* s = src.data<T>();
    T* out = y.data<T>();
    parallel_for(M, 16, [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; ++m)
        for (int64_t j = start[m]; j < start[m + 1]; ++j)
          for (int64_t c = 0; c < D; ++c) out[m * D + c] += s[order[j] * D + c];
    });
  });
  return y;
}

}  // namespace

// GPU paths. Indices are validated on the host (a device-to-host copy of idx), which also feeds
// the host-built row groups that make the GPU scatter-adds deterministic without atomics.
namespace {

Tensor host_indices(const Tensor& idx, int64_t bound, const char* op) {
  Tensor h = idx.device() == Device::cpu ? idx : idx.to(Device::cpu);
  check_indices(h, bound, op);
  return h;
}

const int32_t* device_ids(const Tensor& idx) {
  return static_cast<const int32_t*>(idx.raw_data());
}

// x (M, D) on the GPU, idx i32 (K) on the GPU -> (K, D).
Tensor gather_rows_cuda(const Tensor& x, const Tensor& idx) {
  const int64_t K = idx.numel(), D = x.size(1);
  Tensor y = Tensor::empty({K, D}, x.dtype(), Device::cuda);
  cuda::gather_rows(dtype_size(x.dtype()), x.raw_data(), device_ids(idx), y.raw_data(), K, D);
  return y;
}

// src (K, D) on the GPU, idx_host i32 (K) on the host -> (M, D), each row summed in index order.
Tensor scatter_add_rows_cuda(const Tensor& src, const Tensor& idx_host, int64_t M) {
  const int64_t K = idx_host.numel(), D = src.size(1);
  Tensor y = Tensor::empty({M, D}, src.dtype(), Device::cuda);
  cuda::RowGroups g = cuda::group_rows(idx_host.data<int32_t>(), K, M, Device::cuda);
  cuda::sum_row_groups(src.dtype(), src.raw_data(), device_ids(g.start), device_ids(g.order),
                       y.raw_data(), M, D);
  return y;
}

}  // namespace

Tensor index_select_rows(const Tensor& x, const Tensor& idx) {
  check_floating(x, "index_select_rows", "x");
  check_rank(x, 2, "index_select_rows", "x");
  check_rank(idx, 1, "index_select_rows", "idx");
  check_same_device(x, idx, "index_select_rows", "x", "idx");
  if (x.device() == Device::cuda) {
    const int64_t M = x.size(0);
    Tensor idx_host = host_indices(idx, M, "index_select_rows");
    return record("index_select_rows", gather_rows_cuda(x, idx), {x, idx},
                  [idx_host, M](const Tensor& dy, const std::vector<bool>&) {
                    return std::vector<Tensor>{scatter_add_rows_cuda(dy, idx_host, M), Tensor()};
                  });
  }
  check_indices(idx, x.size(0), "index_select_rows");
  const int64_t M = x.size(0);
  return record("index_select_rows", gather_rows(x, idx), {x, idx},
                [idx, M](const Tensor& dy, const std::vector<bool>&) {
                  return std::vector<Tensor>{scatter_add_rows(dy, idx, M), Tensor()};
                });
}

Tensor index_add_rows(const Tensor& src, const Tensor& idx, int64_t M) {
  check_floating(src, "index_add_rows", "src");
  check_rank(src, 2, "index_add_rows", "src");
  check_rank(idx, 1, "index_add_rows", "idx");
  check_same_device(src, idx, "index_add_rows", "src", "idx");
  LORY_CHECK(idx.size(0) == src.size(0), "index_add_rows: idx has ", idx.size(0),
             " entries but src has ", src.size(0), " rows; expected equal");
  if (src.device() == Device::cuda) {
    Tensor idx_host = host_indices(idx, M, "index_add_rows");
    return record("index_add_rows", scatter_add_rows_cuda(src, idx_host, M), {src, idx},
                  [idx](const Tensor& dy, const std::vector<bool>&) {
                    return std::vector<Tensor>{gather_rows_cuda(dy, idx), Tensor()};
                  });
  }
  check_indices(idx, M, "index_add_rows");
  return record("index_add_rows", scatter_add_rows(src, idx, M), {src, idx},
                [idx](const Tensor& dy, const std::vector<bool>&) {
                  return std::vector<Tensor>{gather_rows(dy, idx), Tensor()};
                });
}

Tensor take_along_last(const Tensor& x, const Tensor& idx) {
  const char* op = "take_along_last";
  check_floating(x, op, "x");
  check_rank(x, 2, op, "x");
  check_rank(idx, 2, op, "idx");
  check_same_device(x, idx, op, "x", "idx");
  LORY_CHECK(idx.size(0) == x.size(0), op, ": idx has shape ", idx.shape().str(), " but x has ",
             x.size(0), " rows; expected (", x.size(0), ", K)");
  if (x.device() == Device::cuda) {
    // dx[m, e] sums dy[m, j] over the j with idx[m, j] = e, in j order (as the CPU's scatter).
    host_indices(idx, x.size(1), op);
    const int64_t M = x.size(0), E = x.size(1), K = idx.size(1);
    Tensor y = Tensor::empty({M, K}, x.dtype(), Device::cuda);
    cuda::take_along_last_forward(dtype_size(x.dtype()), x.raw_data(), device_ids(idx),
                                  y.raw_data(), M, E, K);
    return record(op, y, {x, idx},
                  [idx = idx.detach(), M, E, K](const Tensor& dy, const std::vector<bool>&) {
                    Tensor dx = Tensor::empty({M, E}, dy.dtype(), Device::cuda);
                    cuda::take_along_last_backward(dy.dtype(), device_ids(idx), dy.raw_data(),
                                                   dx.raw_data(), M, E, K);
                    return std::vector<Tensor>{dx, Tensor()};
                  });
  }
  check_indices(idx, x.size(1), op);
  const int64_t M = x.size(0), E = x.size(1), K = idx.size(1);
  // As flat row gathers: element (m, j) is row m·E + idx[m,j] of x viewed as (M·E, 1).
  Tensor flat = Tensor::empty({M * K}, DType::i32);
  const int32_t* ip = idx.data<int32_t>();
  for (int64_t i = 0; i < M * K; ++i) flat.data<int32_t>()[i] = static_cast<int32_t>((i / K) * E + ip[i]);
  Tensor y = gather_rows(x.view({M * E, 1}), flat).view({M, K});
  return record(op, y, {x, idx}, [flat, M, E, K](const Tensor& dy, const std::vector<bool>&) {
    Tensor dx = scatter_add_rows(dy.view({M * K, 1}), flat, M * E).view({M, E});
    return std::vector<Tensor>{dx, Tensor()};
  });
}

Tensor topk_indices(const Tensor& x, int64_t K) {
  check_rank(x, 2, "topk_indices", "x");
  const int64_t M = x.size(0), E = x.size(1);
  LORY_CHECK(K >= 1 && K <= E, "topk_indices: K is ", K, "; expected 1..", E);
  if (x.device() == Device::cuda) {
    Tensor out = Tensor::empty({M, K}, DType::i32, Device::cuda);
    cuda::topk_indices(x.dtype(), x.raw_data(), static_cast<int32_t*>(out.raw_data()), M, E, K);
    return out;
  }
  Tensor out = Tensor::empty({M, K}, DType::i32);
  dispatch_float(x.dtype(), "topk_indices", [&](auto zero) {
    using T = decltype(zero);
    const T* p = x.data<T>();
    int32_t* o = out.data<int32_t>();
    parallel_for(M, 256, [&](int64_t b, int64_t e) {
      std::vector<int32_t> order(E);
      for (int64_t m = b; m < e; ++m) {
        std::iota(order.begin(), order.end(), 0);
        const T* row = p + m * E;
        std::partial_sort(order.begin(), order.begin() + K, order.end(), [row](int32_t i, int32_t j) {
          return row[i] > row[j] || (row[i] == row[j] && i < j);
        });
        std::copy_n(order.begin(), K, o + m * K);
      }
    });
  });
  return out;
}

}  // namespace lory::ops
