// rope: rotation of (i, i + Dh/2) pairs by position-dependent angles; backward rotates back.
#include "ops/rope.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/rope.h"

namespace lory::ops {
namespace {

// Rows are handed to threads only when a loop covers at least this many elements: below it the
// fork costs more than the work. (Rows are independent, so the split never changes results.)
constexpr int64_t kGrainElements = 1 << 14;

// cos and sin of angle (pos_offset + l) · theta^(-2i/Dh), each (L, Dh/2). Computed in double
// (a float angle at position 10^5 would be off by ~0.01 rad) and cast once.
template <typename T>
void rope_tables(int64_t L, int64_t Dh, int64_t pos_offset, double theta, std::vector<T>& cos_t,
                 std::vector<T>& sin_t) {
  int64_t half = Dh / 2;
  cos_t.resize(static_cast<size_t>(L * half));
  sin_t.resize(static_cast<size_t>(L * half));
  for (int64_t i = 0; i < half; ++i) {
    double freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(Dh));
    for (int64_t l = 0; l < L; ++l) {
      double angle = static_cast<double>(pos_offset + l) * freq;
      cos_t[l * half + i] = static_cast<T>(std::cos(angle));
      sin_t[l * half + i] = static_cast<T>(std::sin(angle));
    }
  }
}

// The tables of the last call on this thread, reused while the arguments repeat (a training step
// applies the same rotation 4 times per layer; computing the tables took about as long as
// rotating).
template <typename T>
struct TableCache {
  int64_t L = -1, Dh = -1, pos_offset = -1;
  double theta = 0;
  std::vector<T> cos_t, sin_t;
};

template <typename T>
const TableCache<T>& cached_tables(int64_t L, int64_t Dh, int64_t pos_offset, double theta) {
  thread_local TableCache<T> c;
  if (c.L != L || c.Dh != Dh || c.pos_offset != pos_offset || c.theta != theta) {
    rope_tables<T>(L, Dh, pos_offset, theta, c.cos_t, c.sin_t);
    c.L = L, c.Dh = Dh, c.pos_offset = pos_offset, c.theta = theta;
  }
  return c;
}

// x, y (B·H, L, Dh). direction = +1 rotates by +angle (forward), -1 by -angle.
// Backward: y = R(a) x with R(a) orthogonal, so dx = R(a)ᵀ dy = R(-a) dy: the inverse rotation.
template <typename T>
void rope_kernel(const T* x, T* y, int64_t BH, int64_t L, int64_t Dh, int64_t pos_offset,
                 double theta, int direction) {
  const TableCache<T>& tables = cached_tables<T>(L, Dh, pos_offset, theta);
  const std::vector<T>& cos_t = tables.cos_t;
  const std::vector<T>& sin_t = tables.sin_t;
  int64_t half = Dh / 2;
  T sign = static_cast<T>(direction);
  int64_t grain = std::max<int64_t>(1, kGrainElements / Dh);
  parallel_for(BH * L, grain, [&](int64_t begin, int64_t end) {
    // Local copies: stores through yr could alias captured floats, which would keep the loop
    // scalar (GCC reloads them after every store).
    const T sgn = sign;
    const int64_t h = half;
    for (int64_t row = begin; row < end; ++row) {
      int64_t l = row % L;
      const T* xr = x + row * Dh;
      T* yr = y + row * Dh;
      const T* c = cos_t.data() + l * h;
      const T* s = sin_t.data() + l * h;
      for (int64_t i = 0; i < h; ++i) {
        T x1 = xr[i], x2 = xr[i + h], si = sgn * s[i];
        yr[i] = x1 * c[i] - x2 * si;
        yr[i + h] = x2 * c[i] + x1 * si;
      }
    }
  });
}

Tensor rope_apply(const Tensor& x, int64_t pos_offset, double theta, int direction) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch_float(x.dtype(), "rope", [&](auto zero) {
    using T = decltype(zero);
    rope_kernel<T>(x.data<T>(), y.data<T>(), x.size(0) * x.size(1), x.size(2), x.size(3),
                   pos_offset, theta, direction);
  });
  return y;
}

}  // namespace

Tensor rope(const Tensor& x, int64_t pos_offset, double theta) {
  const char* op = "rope";
  check_floating(x, op, "x");
  check_rank(x, 4, op, "x");
  LORY_CHECK(x.size(3) % 2 == 0 && x.size(3) > 0, op, ": argument 'x' has shape ", x.shape().str(),
             "; expected an even, positive head width Dh (B, H, L, Dh)");
  LORY_CHECK(pos_offset >= 0, op, ": pos_offset is ", pos_offset, "; expected >= 0");
  LORY_CHECK(theta > 0, op, ": theta is ", theta, "; expected > 0");
  // Rotation by direction · angle (forward +1, backward -1) on the tensor's device.
  auto apply = [pos_offset, theta](const Tensor& in, int direction) {
    if (in.device() != Device::cuda) return rope_apply(in, pos_offset, theta, direction);
    Tensor out = Tensor::empty(in.shape(), in.dtype(), in.device());
    cuda::rope_apply(in.dtype(), in.raw_data(), out.raw_data(), in.size(0) * in.size(1),
                     in.size(2), in.size(3), pos_offset, theta, direction);
    return out;
  };
  Tensor y = apply(x, +1);
  return record(op, y, {x}, [apply](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{apply(dy, -1)};
  });
}

}  // namespace lory::ops
