// scale_rows: y[m,:] = s[m]·x[m,:].  Backward: dx[m,:] = s[m]·dy[m,:], ds[m] = ⟨dy[m,:], x[m,:]⟩.
#include "ops/scale_rows.h"

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/scale_rows.h"

namespace lory::ops {
namespace {

Tensor scale_rows_kernel(const Tensor& x, const Tensor& s) {
  const int64_t M = x.size(0), D = x.size(1);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch_float(x.dtype(), "scale_rows", [&](auto zero) {
    using T = decltype(zero);
    const T *xp = x.data<T>(), *sp = s.data<T>();
    T* yp = y.data<T>();
    parallel_for(M, 64, [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; ++m)
        for (int64_t c = 0; c < D; ++c) yp[m * D + c] = sp[m] * xp[m * D + c];
    });
  });
  return y;
}

Tensor row_dots(const Tensor& a, const Tensor& b) {
  const int64_t M = a.size(0), D = a.size(1);
  Tensor out = Tensor::empty({M}, a.dtype());
  dispatch_float(a.dtype(), "scale_rows", [&](auto zero) {
    using T = decltype(zero);
    const T *ap = a.data<T>(), *bp = b.data<T>();
    T* op = out.data<T>();
    parallel_for(M, 64, [&](int64_t lo, int64_t hi) {
      for (int64_t m = lo; m < hi; ++m) {
        T acc = 0;
        for (int64_t c = 0; c < D; ++c) acc += ap[m * D + c] * bp[m * D + c];
        op[m] = acc;
      }
    });
  });
  return out;
}

// The two kernels on either device (the GPU ones in ops/cuda/scale_rows.cu).
Tensor scaled_rows(const Tensor& x, const Tensor& s) {
  if (x.device() != Device::cuda) return scale_rows_kernel(x, s);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  cuda::scale_rows_forward(x.dtype(), x.raw_data(), s.raw_data(), y.raw_data(), x.size(0),
                           x.size(1));
  return y;
}

Tensor dots_of_rows(const Tensor& a, const Tensor& b) {
  if (a.device() != Device::cuda) return row_dots(a, b);
  Tensor out = Tensor::empty({a.size(0)}, a.dtype(), a.device());
  cuda::scale_rows_row_dots(a.dtype(), a.raw_data(), b.raw_data(), out.raw_data(), a.size(0),
                            a.size(1));
  return out;
}

}  // namespace

Tensor scale_rows(const Tensor& x, const Tensor& s) {
  check_floating(x, "scale_rows", "x");
  check_rank(x, 2, "scale_rows", "x");
  check_rank(s, 1, "scale_rows", "s");
  check_same_dtype(x, s, "scale_rows", "x", "s");
  check_same_device(x, s, "scale_rows", "x", "s");
  LORY_CHECK(s.size(0) == x.size(0), "scale_rows: s has ", s.size(0), " entries but x has ",
             x.size(0), " rows; expected equal");
  Tensor xs = x.detach(), ss = s.detach();
  return record("scale_rows", scaled_rows(x, s), {x, s},
                [xs, ss](const Tensor& dy, const std::vector<bool>& needs) {
                  return std::vector<Tensor>{needs[0] ? scaled_rows(dy, ss) : Tensor(),
                                             needs[1] ? dots_of_rows(dy, xs) : Tensor()};
                });
}

}  // namespace lory::ops
