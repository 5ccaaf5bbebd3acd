// concat: y = [x_0, x_1, ...] along one dim, as a copy. Backward: each input's gradient is its
// slice of dy (dx_i = narrow(dy, dim, offset_i, n_i)).
#include "ops/concat.h"

#include <cstring>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/narrow.h"
#include "ops/narrow.h"

namespace lory::ops {

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  LORY_CHECK(!xs.empty(), "concat: the list of tensors is empty; expected at least one");
  check_defined(xs[0], "concat", "xs[0]");
  const Tensor& x0 = xs[0];
  const int d = x0.shape().normalize(dim);
  std::vector<int64_t> sizes(xs.size()), offsets(xs.size());
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    std::string arg = "xs[" + std::to_string(i) + "]";
    check_defined(x, "concat", arg.c_str());
    check_same_device(x0, x, "concat", "xs[0]", arg.c_str());
    check_same_dtype(x0, x, "concat", "xs[0]", arg.c_str());
    bool same = x.rank() == x0.rank();
    for (int k = 0; same && k < x.rank(); ++k) same = k == d || x.size(k) == x0.size(k);
    LORY_CHECK(same, "concat: ", arg, " has shape ", x.shape().str(), " but xs[0] has shape ",
               x0.shape().str(), "; expected equal shapes except along dim ", dim);
    sizes[i] = x.size(d);
    offsets[i] = total;
    total += sizes[i];
  }
  Shape out = x0.shape();
  out[d] = total;
  Tensor y = Tensor::empty(out, x0.dtype(), x0.device());
  const int64_t outer = x0.shape().outer(d), k = static_cast<int64_t>(xs.size());
  const int64_t row = x0.shape().inner(d) * static_cast<int64_t>(dtype_size(x0.dtype()));
  char* yp = static_cast<char*>(y.raw_data());
  if (x0.device() == Device::cuda) {
    // One strided copy per input: its (outer, n_i·inner) block into y's rows offset_i.
    const size_t es = dtype_size(x0.dtype());
    const int64_t inner = x0.shape().inner(d);
    for (int64_t i = 0; i < k; ++i)
      if (outer * sizes[i] * inner > 0)
        cuda::copy_blocks(es, xs[i].raw_data(), sizes[i] * inner, yp + offsets[i] * row,
                          total * inner, outer, sizes[i] * inner);
  } else {
    // One task per (outer block, input): a contiguous copy of n_i rows.
    const int64_t task_bytes = std::max<int64_t>(1, total * row / k);
    parallel_for(
        outer * k, std::max<int64_t>(1, (1 << 17) / task_bytes), [&](int64_t begin, int64_t end) {
          for (int64_t t = begin; t < end; ++t) {
            int64_t o = t / k, i = t % k, bytes = sizes[i] * row;
            if (bytes == 0) continue;
            const char* src = static_cast<const char*>(xs[i].raw_data()) + o * bytes;
            std::memcpy(yp + (o * total + offsets[i]) * row, src, static_cast<size_t>(bytes));
          }
        });
  }
  return record("concat", y, xs,
                [d, sizes, offsets](const Tensor& dy, const std::vector<bool>& needs) {
                  std::vector<Tensor> grads(sizes.size());
                  for (size_t i = 0; i < sizes.size(); ++i)
                    if (needs[i]) grads[i] = narrow(dy, d, offsets[i], sizes[i]);
                  return grads;
                });
}

}  // namespace lory::ops
