// embedding: out[n, :] = table[ids[n], :] over the flattened positions n.
//
// Backward: dtable[v, :] = sum over the positions n with ids[n] = v of dout[n, :] (every other
// row gets 0); ids get no gradient. The sum is made deterministic without atomics: a counting
// sort lists, for every vocab row, its positions in increasing order, and then each row is
// summed by one thread in that order. So the bits do not depend on the thread count.
#include "ops/embedding.h"

#include <cstring>
#include <vector>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/index.h"
#include "ops/cuda/row_groups.h"

namespace lory::ops {
namespace {

// Multi-index of flat position n in `shape`, e.g. "(1, 2)".
std::string position_str(const Shape& shape, int64_t n) {
  std::vector<int64_t> idx(shape.rank());
  for (int d = shape.rank() - 1; d >= 0; --d) idx[d] = n % shape[d], n /= shape[d];
  std::string s = "(";
  for (size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + ")";
}

void check_ids(const Tensor& ids, int64_t V) {
  const int32_t* id = ids.data<int32_t>();
  for (int64_t n = 0; n < ids.numel(); ++n)
    LORY_CHECK(id[n] >= 0 && id[n] < V, "embedding: id ", id[n], " at position ",
               position_str(ids.shape(), n), " of ids ", ids.shape().str(),
               " is out of range; expected 0 <= id < V = ", V);
}

template <typename T>
void embedding_backward_kernel(const int32_t* id, const T* dout, T* dtable, int64_t count,
                               int64_t V, int64_t D) {
  // Counting sort of the positions by id: positions of row v are order[start[v] : start[v+1]],
  // increasing.
  std::vector<int64_t> start(V + 1, 0), order(count);
  for (int64_t n = 0; n < count; ++n) ++start[id[n] + 1];
  for (int64_t v = 0; v < V; ++v) start[v + 1] += start[v];
  std::vector<int64_t> next(start.begin(), start.end() - 1);
  for (int64_t n = 0; n < count; ++n) order[next[id[n]]++] = n;
  parallel_for(V, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(D, 1) + 1),
               [&](int64_t begin, int64_t end) {
                 for (int64_t v = begin; v < end; ++v) {
                   T* row = dtable + v * D;
                   for (int64_t k = start[v]; k < start[v + 1]; ++k) {
                     const T* src = dout + order[k] * D;
                     for (int64_t j = 0; j < D; ++j) row[j] += src[j];
                   }
                 }
               });
}

}  // namespace

Tensor embedding(const Tensor& ids, const Tensor& table) {
  check_defined(ids, "embedding", "ids");
  check_defined(table, "embedding", "table");
  check_same_device(ids, table, "embedding", "ids", "table");
  check_dtype(ids, DType::i32, "embedding", "ids");
  check_floating(table, "embedding", "table");
  LORY_CHECK(table.rank() == 2, "embedding: argument 'table' has shape ", table.shape().str(),
             "; expected (V, D)");
  LORY_CHECK(ids.rank() < Shape::kMaxRank, "embedding: ids ", ids.shape().str(), " has rank ",
             ids.rank(), "; expected at most ", Shape::kMaxRank - 1);
  const int64_t V = table.size(0), D = table.size(1), count = ids.numel();
  std::vector<int64_t> out = ids.shape().to_vector();
  out.push_back(D);
  if (table.device() == Device::cuda) {
    // Ids are checked on the host (a device-to-host copy), and the host copy is kept to group
    // the positions by vocab row for backward: dtable row v sums its positions in token order,
    // one GPU thread per element, no atomics.
    Tensor ids_host = ids.to(Device::cpu);
    check_ids(ids_host, V);
    Tensor y = Tensor::empty(Shape(out), table.dtype(), Device::cuda);
    cuda::gather_rows(dtype_size(table.dtype()), table.raw_data(),
                      static_cast<const int32_t*>(ids.raw_data()), y.raw_data(), count, D);
    return record("embedding", y, {table},
                  [ids_host, V, D](const Tensor& dy, const std::vector<bool>&) {
                    const int64_t n = ids_host.numel();
                    Tensor dtable = Tensor::empty({V, D}, dy.dtype(), Device::cuda);
                    cuda::RowGroups g =
                        cuda::group_rows(ids_host.data<int32_t>(), n, V, Device::cuda);
                    cuda::sum_row_groups(dy.dtype(), dy.raw_data(),
                                         static_cast<const int32_t*>(g.start.raw_data()),
                                         static_cast<const int32_t*>(g.order.raw_data()),
                                         dtable.raw_data(), V, D);
                    return std::vector<Tensor>{dtable};
                  });
  }
  check_ids(ids, V);
  Tensor y = Tensor::empty(Shape(out), table.dtype());
  const int32_t* id = ids.data<int32_t>();
  const size_t row = static_cast<size_t>(D) * dtype_size(table.dtype());
  const char* tp = static_cast<const char*>(table.raw_data());
  char* yp = static_cast<char*>(y.raw_data());
  if (row > 0)
    parallel_for(count, std::max<int64_t>(1, (1 << 17) / static_cast<int64_t>(row)),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t n = begin; n < end; ++n)
                     std::memcpy(yp + n * row, tp + id[n] * row, row);
                 });
  Tensor saved_ids = ids.detach();
  return record("embedding", y, {table},
                [saved_ids, V, D](const Tensor& dy, const std::vector<bool>&) {
                  Tensor dtable = Tensor::zeros({V, D}, dy.dtype());
                  dispatch_float(dy.dtype(), "embedding", [&](auto zero) {
                    using T = decltype(zero);
                    embedding_backward_kernel<T>(saved_ids.data<int32_t>(), dy.data<T>(),
                                                 dtable.data<T>(), saved_ids.numel(), V, D);
                  });
                  return std::vector<Tensor>{dtable};
                });
}

}  // namespace lory::ops
