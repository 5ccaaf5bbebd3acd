// swiglu: y = silu(a) b, with s = sigmoid(a), silu(a) = a s.
//   Backward (silu'(a) = s (1 + a (1 - s)), see activation.cpp):
//     da = dy b s (1 + a (1 - s))
//     db = dy a s
//   Both come from one sigmoid per element, in one pass over (dy, a, b); saves a and b only.
#include "ops/swiglu.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/swiglu.h"
#include "ops/vec_math.h"

namespace lory::ops {
namespace {

// Elements go in blocks of kBlock: one vectorised sigmoid per block into a stack buffer, then a
// loop the compiler vectorises. Blocks are independent, so the split never changes results.
constexpr int64_t kBlock = 512;
constexpr int64_t kGrainBlocks = (1 << 13) / kBlock;

template <typename T>
void swiglu_forward_kernel(const T* a, const T* b, T* y, int64_t n) {
  parallel_for((n + kBlock - 1) / kBlock, kGrainBlocks, [&](int64_t b0, int64_t b1) {
    T s[kBlock];
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = blk * kBlock, m = std::min(kBlock, n - i0);
      vec::sigmoid(a + i0, s, m);
      for (int64_t k = 0; k < m; ++k) y[i0 + k] = a[i0 + k] * s[k] * b[i0 + k];
    }
  });
}

// da or db may be null (not wanted).
template <typename T>
void swiglu_backward_kernel(const T* dy, const T* a, const T* b, T* da, T* db, int64_t n) {
  parallel_for((n + kBlock - 1) / kBlock, kGrainBlocks, [&](int64_t b0, int64_t b1) {
    T s[kBlock];
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = blk * kBlock, m = std::min(kBlock, n - i0);
      vec::sigmoid(a + i0, s, m);
      const T *dyb = dy + i0, *ab = a + i0, *bb = b + i0;
      if (da)
        for (int64_t k = 0; k < m; ++k)
          da[i0 + k] = dyb[k] * bb[k] * s[k] * (T(1) + ab[k] * (T(1) - s[k]));
      if (db)
        for (int64_t k = 0; k < m; ++k) db[i0 + k] = dyb[k] * ab[k] * s[k];
    }
  });
}

}  // namespace

Tensor swiglu(const Tensor& a, const Tensor& b) {
  check_floating(a, "swiglu", "a");
  check_floating(b, "swiglu", "b");
  check_same_device(a, b, "swiglu", "a", "b");
  check_same_shape(a, b, "swiglu", "a", "b");
  check_same_dtype(a, b, "swiglu", "a", "b");
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  if (a.device() == Device::cuda) {
    cuda::swiglu_forward(a.dtype(), a.raw_data(), b.raw_data(), y.raw_data(), a.numel());
  } else {
    dispatch_float(a.dtype(), "swiglu", [&](auto zero) {
      using T = decltype(zero);
      swiglu_forward_kernel<T>(a.data<T>(), b.data<T>(), y.data<T>(), a.numel());
    });
  }
  Tensor a_saved = a.detach(), b_saved = b.detach();
  return record("swiglu", y, {a, b},
                [a_saved, b_saved](const Tensor& dy, const std::vector<bool>& needs) {
                  Tensor da, db;
                  if (needs[0]) da = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
                  if (needs[1]) db = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
                  if (dy.device() == Device::cuda) {
                    cuda::swiglu_backward(dy.dtype(), dy.raw_data(), a_saved.raw_data(),
                                          b_saved.raw_data(), da.defined() ? da.raw_data() : nullptr,
                                          db.defined() ? db.raw_data() : nullptr, dy.numel());
                    return std::vector<Tensor>{da, db};
                  }
                  dispatch_float(dy.dtype(), "swiglu", [&](auto zero) {
                    using T = decltype(zero);
                    swiglu_backward_kernel<T>(dy.data<T>(), a_saved.data<T>(), b_saved.data<T>(),
                                              da.defined() ? da.data<T>() : nullptr,
                                              db.defined() ? db.data<T>() : nullptr, dy.numel());
                  });
                  return std::vector<Tensor>{da, db};
                });
}

}  // namespace lory::ops
