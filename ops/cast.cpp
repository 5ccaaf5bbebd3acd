// cast: argument checks, the element-wise conversion on the CPU, and its backward.
#include "ops/cast.h"

#include "core/autograd.h"
#include "core/threads.h"
#include "ops/cuda/cast.h"

namespace lory::ops {
namespace {

// Elements are loaded as double (exact for f32, f64 and bf16) and stored with one rounding to
// the target: f64 -> f32 rounds once; to bf16 the value goes through float first, as on the GPU
// (f64 -> f32 -> bf16; exact for f32 and bf16 sources).
double load(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::f64: return static_cast<const double*>(p)[i];
    case DType::bf16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    default: return 0;
  }
}
void store(void* p, DType t, int64_t i, double v) {
  switch (t) {
    case DType::f32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DType::f64: static_cast<double*>(p)[i] = v; break;
    case DType::bf16: static_cast<uint16_t*>(p)[i] = float_to_bf16(static_cast<float>(v)); break;
    default: break;
  }
}

void cast_kernel(const void* x, DType from, void* y, DType to, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) store(y, to, i, load(x, from, i));
  });
}

Tensor cast_plain(const Tensor& x, DType dtype) {
  Tensor y = Tensor::empty(x.shape(), dtype, x.device());
  if (x.numel() == 0) return y;
  if (x.device() == Device::cuda)
    cuda::cast(x.dtype(), x.raw_data(), dtype, y.raw_data(), x.numel());
  else
    cast_kernel(x.raw_data(), x.dtype(), y.raw_data(), dtype, x.numel());
  return y;
}

}  // namespace

Tensor cast(const Tensor& x, DType dtype) {
  const char* op = "cast";
  check_floating(x, op, "x");
  LORY_CHECK(is_floating(dtype), op, ": target dtype is ", dtype_name(dtype),
             "; expected f32, f64 or bf16");
  if (dtype == x.dtype()) return x;
  Tensor y = cast_plain(x, dtype);
  // y = x rounded to the target precision: dy/dx is the identity, so dx = dy in x's dtype.
  return record(op, y, {x}, [from = x.dtype()](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{cast_plain(dy, from)};
  });
}

}  // namespace lory::ops
