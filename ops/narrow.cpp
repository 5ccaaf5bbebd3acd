// narrow: y = x[..., start : start + length, ...] as a copy. Backward: dy scattered into zeros
// (dx is dy on the slice and 0 elsewhere, since the other elements of x do not reach y).
#include "ops/narrow.h"

#include <cstring>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/narrow.h"

namespace lory::ops {
namespace {

// Copies, for each of `outer` blocks, `bytes` bytes from src (block stride src_stride) to dst
// (block stride dst_stride). Both narrow and its backward are this one strided copy.
void copy_blocks(const char* src, int64_t src_stride, char* dst, int64_t dst_stride, int64_t outer,
                 int64_t bytes) {
  parallel_for(outer, std::max<int64_t>(1, (1 << 17) / std::max<int64_t>(bytes, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t o = begin; o < end; ++o)
                   std::memcpy(dst + o * dst_stride, src + o * src_stride,
                               static_cast<size_t>(bytes));
               });
}

}  // namespace

Tensor narrow(const Tensor& x, int dim, int64_t start, int64_t length) {
  check_defined(x, "narrow", "x");
  const int d = x.shape().normalize(dim);
  const int64_t n = x.size(d);
  LORY_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start,
             " and length ", length, " along dim ", dim, " of x ", x.shape().str(),
             " are out of range; expected 0 <= start and start + length <= ", n);
  Shape out = x.shape();
  out[d] = length;
  const int64_t outer = x.shape().outer(d);
  const int64_t es = static_cast<int64_t>(dtype_size(x.dtype()));
  const int64_t row = x.shape().inner(d) * es;  // bytes per index along dim
  Tensor y = Tensor::empty(out, x.dtype(), x.device());
  // On the GPU the same copy counted in elements: strides n·inner and length·inner.
  const int64_t inner = x.shape().inner(d);
  if (y.numel() > 0 && x.device() == Device::cuda)
    cuda::copy_blocks(es, static_cast<const char*>(x.raw_data()) + start * row, n * inner,
                      y.raw_data(), length * inner, outer, length * inner);
  else if (y.numel() > 0)
    copy_blocks(static_cast<const char*>(x.raw_data()) + start * row, n * row,
                static_cast<char*>(y.raw_data()), length * row, outer, length * row);
  Shape x_shape = x.shape();
  return record(
      "narrow", y, {x},
      [x_shape, d, start, length, outer, row, n, es, inner](const Tensor& dy,
                                                            const std::vector<bool>&) {
        Tensor dx = Tensor::zeros(x_shape, dy.dtype(), dy.device());
        if (dy.numel() > 0 && dy.device() == Device::cuda)
          cuda::copy_blocks(es, dy.raw_data(), length * inner,
                            static_cast<char*>(dx.raw_data()) + start * row, n * inner, outer,
                            length * inner);
        else if (dy.numel() > 0)
          copy_blocks(static_cast<const char*>(dy.raw_data()), length * row,
                      static_cast<char*>(dx.raw_data()) + start * row, n * row, outer,
                      length * row);
        return std::vector<Tensor>{dx};
      });
}

}  // namespace lory::ops
