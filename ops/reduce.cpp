// sum and mean, over the whole tensor or one dim, as one deterministic blocked reduction.
//   Forward: view x as (outer, len, inner); y[o, i] = scale * sum_k x[o, k, i], with scale = 1
//   (sum) or 1/len (mean).
//   Backward: x[o, k, i] enters only y[o, i], with weight scale, so dx[o, k, i] = scale * dy[o, i].
#include "ops/reduce.h"

#include <algorithm>
#include <vector>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/reduce.h"

namespace lory::ops {
namespace {

// Determinism: the k-range of every output is cut into blocks of kb consecutive k, where kb
// depends only on the shape; each block is summed in order into a double partial, and the
// partials are added in block order. Threads take work items (o, block, column chunk) in any
// split, but every output sees the same additions in the same order.
constexpr int64_t kBlockElems = 4096;  // elements per work item, about
constexpr int64_t kColChunk = 256;     // columns (inner index) per work item

template <typename T>
void sum_kernel(const T* x, T* y, int64_t outer, int64_t len, int64_t inner, double scale) {
  if (outer * inner == 0) return;
  int64_t kb = std::max<int64_t>(1, kBlockElems / std::min(inner, kColChunk));
  int64_t nb = (len + kb - 1) / kb;  // blocks along k
  int64_t nc = (inner + kColChunk - 1) / kColChunk;
  std::vector<double> partial(static_cast<size_t>(outer * nb * inner));  // [o][b][i]
  parallel_for(outer * nb * nc, 4, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      int64_t c = item % nc, b = (item / nc) % nb, o = item / (nc * nb);
      int64_t i0 = c * kColChunk, i1 = std::min(inner, i0 + kColChunk);
      int64_t k0 = b * kb, k1 = std::min(len, k0 + kb);
      double* acc = partial.data() + (o * nb + b) * inner;
      if (inner == 1) {
        double s = 0;
        for (int64_t k = k0; k < k1; ++k) s += x[o * len + k];
        acc[0] = s;
        continue;
      }
      for (int64_t i = i0; i < i1; ++i) acc[i] = 0;
      for (int64_t k = k0; k < k1; ++k) {
        const T* row = x + (o * len + k) * inner;
        for (int64_t i = i0; i < i1; ++i) acc[i] += row[i];
      }
    }
  });
  parallel_for(outer * inner, 1 << 12, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      int64_t o = j / inner, i = j % inner;
      double s = 0;
      for (int64_t b = 0; b < nb; ++b) s += partial[(o * nb + b) * inner + i];
      y[j] = static_cast<T>(s * scale);  // an empty mean is 0 * inf = NaN, as intended
    }
  });
}

template <typename T>
void expand_kernel(const T* dy, T* dx, int64_t outer, int64_t len, int64_t inner, T scale) {
  int64_t rows = outer * len;
  int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(inner, 1));
  parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* src = dy + (r / len) * inner;
      T* dst = dx + r * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] = scale * src[i];
    }
  });
}

// y = scale * (x summed over k, viewed as (outer, len, inner)), shaped out_shape.
Tensor reduce(const char* op, const Tensor& x, int64_t outer, int64_t len, int64_t inner,
              double scale, const Shape& out_shape) {
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  if (x.device() == Device::cuda) {
    cuda::reduce_sum(x.dtype(), x.raw_data(), y.raw_data(), outer, len, inner, scale);
  } else {
    dispatch_float(x.dtype(), op, [&](auto zero) {
      using T = decltype(zero);
      sum_kernel<T>(x.data<T>(), y.data<T>(), outer, len, inner, scale);
    });
  }
  Shape x_shape = x.shape();
  return record(op, y, {x}, [=](const Tensor& dy, const std::vector<bool>&) {
    Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
    if (dy.device() == Device::cuda) {
      cuda::reduce_expand(dy.dtype(), dy.raw_data(), dx.raw_data(), outer, len, inner, scale);
      return std::vector<Tensor>{dx};
    }
    dispatch_float(dy.dtype(), op, [&](auto zero) {
      using T = decltype(zero);
      expand_kernel<T>(dy.data<T>(), dx.data<T>(), outer, len, inner, static_cast<T>(scale));
    });
    return std::vector<Tensor>{dx};
  });
}

void check_input(const Tensor& x, const char* op) {
  check_floating(x, op, "x");
}

Tensor reduce_dim(const char* op, const Tensor& x, int dim, bool keepdim, bool is_mean) {
  check_input(x, op);
  int r = x.rank();
  LORY_CHECK(dim >= -r && dim < r, op, ": dim ", dim, " is out of range for argument 'x' of shape ",
             x.shape().str(), "; expected ", -r, "..", r - 1);
  int d = dim < 0 ? dim + r : dim;
  std::vector<int64_t> dims = x.shape().to_vector();
  int64_t len = dims[d];
  if (keepdim)
    dims[d] = 1;
  else
    dims.erase(dims.begin() + d);
  double scale = is_mean ? 1.0 / static_cast<double>(len) : 1.0;
  return reduce(op, x, x.shape().outer(d), len, x.shape().inner(d), scale, Shape(dims));
}

}  // namespace

Tensor sum(const Tensor& x) {
  check_input(x, "sum");
  return reduce("sum", x, 1, x.numel(), 1, 1.0, Shape{});
}

Tensor mean(const Tensor& x) {
  check_input(x, "mean");
  return reduce("mean", x, 1, x.numel(), 1, 1.0 / static_cast<double>(x.numel()), Shape{});
}

Tensor sum(const Tensor& x, int dim, bool keepdim) {
  return reduce_dim("sum", x, dim, keepdim, false);
}

Tensor mean(const Tensor& x, int dim, bool keepdim) {
  return reduce_dim("mean", x, dim, keepdim, true);
}

}  // namespace lory::ops
