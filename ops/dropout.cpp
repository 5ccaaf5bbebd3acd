// dropout: y = x m / (1 - p), m_i = [uniform_at(seed, first + i) >= p] in {0, 1}.
//   Backward: y is linear in x with the same mask, so dx = dy m / (1 - p). The mask is not stored:
//   backward regenerates it from (seed, first), trading one Philox block per element for a
//   mask-sized buffer held until backward.
#include "ops/dropout.h"

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/dropout.h"

namespace lory::ops {
namespace {

// out[i] = in[i] * keep_scale when element i is kept, else 0.
template <typename T>
void dropout_kernel(const T* in, T* out, int64_t n, double p, uint64_t seed, uint64_t first) {
  T keep_scale = static_cast<T>(1.0 / (1.0 - p));
  parallel_for(n, 1 << 12, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      bool keep = uniform_at(seed, first + static_cast<uint64_t>(i)) >= p;
      out[i] = keep ? in[i] * keep_scale : T(0);
    }
  });
}

Tensor apply(const Tensor& in, double p, uint64_t seed, uint64_t first) {
  Tensor out = Tensor::empty(in.shape(), in.dtype(), in.device());
  if (in.device() == Device::cuda) {
    cuda::dropout_apply(in.dtype(), in.raw_data(), out.raw_data(), in.numel(), p, seed, first);
    return out;
  }
  dispatch_float(in.dtype(), "dropout", [&](auto zero) {
    using T = decltype(zero);
    dropout_kernel<T>(in.data<T>(), out.data<T>(), in.numel(), p, seed, first);
  });
  return out;
}

}  // namespace

Tensor dropout(const Tensor& x, double p, Generator& gen, bool training) {
  check_floating(x, "dropout", "x");
  LORY_CHECK(p >= 0.0 && p < 1.0, "dropout: argument 'p' is ", p, "; expected 0 <= p < 1");
  if (!training || p == 0.0) return x;
  uint64_t seed = gen.seed(), first = gen.advance(static_cast<uint64_t>(x.numel()));
  Tensor y = apply(x, p, seed, first);
  return record("dropout", y, {x}, [p, seed, first](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{apply(dy, p, seed, first)};
  });
}

}  // namespace lory::ops
