// Tensor: factories, element access, copies between devices and dtypes, gradient bookkeeping.
#include "core/tensor.h"

#include <algorithm>
#include <cstring>

#include "core/autograd.h"
#include "core/random.h"
#include "core/threads.h"

namespace lory {

// ---- bf16 ------------------------------------------------------------------------------------
uint16_t float_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

float bf16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

namespace {

// Reads element i of a host buffer of dtype t as double.
double load_as_double(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::f64: return static_cast<const double*>(p)[i];
    case DType::i32: return static_cast<const int32_t*>(p)[i];
    case DType::bf16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
  }
  return 0;
}

void store_from_double(void* p, DType t, int64_t i, double v) {
  switch (t) {
    case DType::f32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DType::f64: static_cast<double*>(p)[i] = v; break;
    case DType::i32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    case DType::bf16:
      static_cast<uint16_t*>(p)[i] = float_to_bf16(static_cast<float>(v));
      break;
  }
}

// A host copy of t's bytes (t itself when it is already on the CPU).
Tensor on_host(const Tensor& t) { return t.device() == Device::cpu ? t : t.to(Device::cpu); }

}  // namespace

// ---- factories -------------------------------------------------------------------------------
Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape.numel() * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(0.0);
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full(Shape{}, value, dtype, device);
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  LORY_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from_vector: ",
             values.size(), " values for shape ", shape.str(), "; expected ", shape.numel());
  Tensor t = empty(shape, dtype_of<T>(), Device::cpu);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector<int32_t>(const std::vector<int32_t>&, const Shape&);

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  Tensor t = empty({n}, dtype, Device::cpu);
  for (int64_t i = 0; i < n; ++i) store_from_double(t.raw_data(), dtype, i, static_cast<double>(i));
  return device == Device::cpu ? t : t.to(device);
}

namespace {
// memcpy / memset of large host buffers shared out among the threads in fixed 256 KiB pieces
// (copying only moves bytes: the result never depends on the split). Gradients are tens of MB;
// one thread copying or zeroing them left the others waiting. fn(offset, bytes) per piece.
template <typename Fn>
void for_each_piece(size_t n, Fn&& fn) {
  constexpr int64_t kPiece = 1 << 18;
  const int64_t pieces = (static_cast<int64_t>(n) + kPiece - 1) / kPiece;
  parallel_for(pieces, 4, [&](int64_t begin, int64_t end) {
    const size_t lo = static_cast<size_t>(begin * kPiece);
    fn(lo, std::min(n, static_cast<size_t>(end * kPiece)) - lo);
  });
}

void parallel_copy(void* dst, const void* src, size_t n) {
  for_each_piece(n, [&](size_t at, size_t bytes) {
    std::memcpy(static_cast<char*>(dst) + at, static_cast<const char*>(src) + at, bytes);
  });
}

void parallel_zero(void* dst, size_t n) {
  for_each_piece(n, [&](size_t at, size_t bytes) {
    std::memset(static_cast<char*>(dst) + at, 0, bytes);
  });
}

template <typename Sample>
Tensor random_tensor(const Shape& shape, Generator& gen, DType dtype, Device device,
                     Sample sample) {
  LORY_CHECK(is_floating(dtype), "random tensors need a floating dtype, got ", dtype_name(dtype));
  Tensor t = Tensor::empty(shape, dtype, Device::cpu);
  uint64_t seed = gen.seed(), first = gen.advance(static_cast<uint64_t>(shape.numel()));
  void* p = t.raw_data();
  parallel_for(t.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      store_from_double(p, dtype, i, sample(seed, first + static_cast<uint64_t>(i)));
  });
  return device == Device::cpu ? t : t.to(device);
}
}  // namespace

Tensor Tensor::randn(const Shape& shape, Generator& gen, double std, DType dtype, Device device) {
  return random_tensor(shape, gen, dtype, device,
                       [std](uint64_t s, uint64_t i) { return std * normal_at(s, i); });
}

Tensor Tensor::uniform(const Shape& shape, Generator& gen, double lo, double hi, DType dtype,
                       Device device) {
  return random_tensor(shape, gen, dtype, device, [lo, hi](uint64_t s, uint64_t i) {
    return lo + (hi - lo) * uniform_at(s, i);
  });
}

// ---- metadata and access ---------------------------------------------------------------------
Tensor& Tensor::set_name(std::string name) {
  impl().name = std::move(name);
  return *this;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  std::string s = std::string(dtype_name(dtype())) + " " + device_name(device()) + " " +
                  shape().str();
  if (!name().empty()) s += " '" + name() + "'";
  return s;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * dtype_size(dtype());
}

template <typename T>
T* Tensor::data() const {
  LORY_CHECK(dtype() == dtype_of<T>(), "Tensor::data: tensor ", str(), " holds ",
             dtype_name(dtype()), ", not ", dtype_name(dtype_of<T>()));
  LORY_CHECK(device() == Device::cpu, "Tensor::data: tensor ", str(),
             " is on the GPU; copy it with .to(Device::cpu) first");
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int32_t* Tensor::data<int32_t>() const;
template <>
uint16_t* Tensor::data<uint16_t>() const {
  LORY_CHECK(dtype() == DType::bf16, "Tensor::data<uint16_t>: tensor ", str(), " is not bf16");
  LORY_CHECK(device() == Device::cpu, "Tensor::data: tensor ", str(), " is on the GPU");
  return static_cast<uint16_t*>(raw_data());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor h = on_host(*this);
  std::vector<T> out(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i)
    out[i] = static_cast<T>(load_as_double(h.raw_data(), dtype(), i));
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

double Tensor::item() const {
  LORY_CHECK(numel() == 1, "Tensor::item: tensor ", str(), " has ", numel(),
             " elements; expected exactly 1");
  return at(0);
}

double Tensor::at(int64_t i) const {
  LORY_CHECK(i >= 0 && i < numel(), "Tensor::at: index ", i, " is out of range for ", str());
  if (device() == Device::cpu) return load_as_double(raw_data(), dtype(), i);
  std::vector<char> bytes(dtype_size(dtype()));
  cuda::copy_to_host(bytes.data(), static_cast<char*>(raw_data()) + i * dtype_size(dtype()),
                     bytes.size());
  return load_as_double(bytes.data(), dtype(), 0);
}

// ---- copies ----------------------------------------------------------------------------------
Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape(), dtype(), target);
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor h = on_host(*this);
  Tensor out = empty(shape(), target, Device::cpu);
  const void* src = h.raw_data();
  void* dst = out.raw_data();
  DType from = dtype();
  parallel_for(numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) store_from_double(dst, target, i, load_as_double(src, from, i));
  });
  return device() == Device::cpu ? out : out.to(device());
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  impl->name = impl_->name;
  return Tensor(std::move(impl));
}

Tensor Tensor::view(const Shape& new_shape) const {
  LORY_CHECK(new_shape.numel() == numel(), "view: cannot view ", str(), " (", numel(),
             " elements) as ", new_shape.str(), " (", new_shape.numel(), " elements)");
  Tensor v = detach();
  v.impl_->shape = new_shape;
  return v;
}

void Tensor::copy_(const Tensor& src) {
  check_same_shape(*this, src, "copy_", "destination", "source");
  check_same_dtype(*this, src, "copy_", "destination", "source");
  size_t n = nbytes();
  if (n == 0) return;
  if (device() == Device::cpu && src.device() == Device::cpu)
    parallel_copy(raw_data(), src.raw_data(), n);
  else if (device() == Device::cpu)
    cuda::copy_to_host(raw_data(), src.raw_data(), n);
  else if (src.device() == Device::cpu)
    cuda::copy_to_device(raw_data(), src.raw_data(), n);
  else
    cuda::copy_device_to_device(raw_data(), src.raw_data(), n);
}

void Tensor::set_data(const Tensor& src) {
  LORY_CHECK(is_leaf(), "set_data: tensor ", str(), " is not a leaf");
  TensorImpl& me = impl();
  me.storage = src.impl().storage;
  me.offset = src.impl().offset;
  me.shape = src.shape();
  me.dtype = src.dtype();
  me.grad.reset();
}

void Tensor::fill_(double value) {
  if (nbytes() == 0) return;
  if (device() != Device::cpu) {
    if (value == 0.0) {
      cuda::memset_zero(raw_data(), nbytes());
    } else {
      copy_(full(shape(), value, dtype(), Device::cpu));
    }
    return;
  }
  void* p = raw_data();
  DType t = dtype();
  if (value == 0.0) {
    parallel_zero(p, nbytes());
    return;
  }
  parallel_for(numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) store_from_double(p, t, i, value);
  });
}

// ---- autograd --------------------------------------------------------------------------------
Tensor& Tensor::set_requires_grad(bool on) {
  LORY_CHECK(!on || is_floating(dtype()), "set_requires_grad: tensor ", str(),
             " has integer dtype; only floating tensors can have gradients");
  LORY_CHECK(is_leaf(), "set_requires_grad: tensor ", str(),
             " is the result of an op; only leaves can be marked (use detach() first)");
  impl().requires_grad = on;
  return *this;
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined()) {
    check_same_shape(*this, g, "set_grad", "tensor", "grad");
    check_same_dtype(*this, g, "set_grad", "tensor", "grad");
  }
  impl().grad = g.shared_impl();
}

void Tensor::zero_grad() {
  if (impl().grad) Tensor(impl().grad).zero_();
}

Tensor& Tensor::retain_grad() {
  if (!is_leaf()) impl().grad_fn->retained = impl_;
  return *this;
}

void Tensor::backward() const {
  LORY_CHECK(numel() == 1, "backward: tensor ", str(),
             " is not a single value; pass a gradient of the same shape: backward(grad)");
  run_backward(*this, Tensor::ones(shape(), dtype(), device()));
}

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

// ---- accumulate and argument checks ----------------------------------------------------------
Tensor sum_of(const Tensor& a, const Tensor& b) {
  check_same_shape(a, b, "sum_of", "a", "b");
  check_same_dtype(a, b, "sum_of", "a", "b");
  check_same_device(a, b, "sum_of", "a", "b");
  if (a.device() == Device::cuda || a.dtype() == DType::bf16) {
    Tensor out = a.clone();
    accumulate_(out, b);
    return out;
  }
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  const int64_t n = a.numel();
  auto run = [n](auto* o, const auto* x, const auto* y) {
    parallel_for(n, 1 << 15, [=](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) o[i] = x[i] + y[i];
    });
  };
  switch (a.dtype()) {
    case DType::f32: run(out.data<float>(), a.data<float>(), b.data<float>()); break;
    case DType::f64: run(out.data<double>(), a.data<double>(), b.data<double>()); break;
    case DType::i32: run(out.data<int32_t>(), a.data<int32_t>(), b.data<int32_t>()); break;
    case DType::bf16: break;  // handled above
  }
  return out;
}

void accumulate_(const Tensor& dst, const Tensor& src) {
  check_same_shape(dst, src, "accumulate_", "dst", "src");
  check_same_dtype(dst, src, "accumulate_", "dst", "src");
  check_same_device(dst, src, "accumulate_", "dst", "src");
  int64_t n = dst.numel();
  if (dst.device() == Device::cuda) {
    cuda::accumulate(dst.dtype(), dst.raw_data(), src.raw_data(), n);
    return;
  }
  auto run = [n](auto* d, const auto* s) {
    parallel_for(n, 1 << 15, [=](int64_t begin, int64_t end) {  // by value: see sum_of
      for (int64_t i = begin; i < end; ++i) d[i] += s[i];
    });
  };
  switch (dst.dtype()) {
    case DType::f32: run(dst.data<float>(), src.data<float>()); break;
    case DType::f64: run(dst.data<double>(), src.data<double>()); break;
    case DType::i32: run(dst.data<int32_t>(), src.data<int32_t>()); break;
    case DType::bf16: LORY_FAIL("accumulate_: bf16 tensors are accumulated on the GPU only");
  }
}

void check_defined(const Tensor& t, const char* op, const char* arg) {
  LORY_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
}

void check_dtype(const Tensor& t, DType expected, const char* op, const char* arg) {
  check_defined(t, op, arg);
  LORY_CHECK(t.dtype() == expected, op, ": argument '", arg, "' is ", t.str(), "; expected dtype ",
             dtype_name(expected));
}

void check_floating(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  LORY_CHECK(is_floating(t.dtype()), op, ": argument '", arg, "' is ", t.str(),
             "; expected a floating dtype (f32, f64 or bf16)");
}

void check_rank(const Tensor& t, int expected, const char* op, const char* arg) {
  check_defined(t, op, arg);
  LORY_CHECK(t.rank() == expected, op, ": argument '", arg, "' has shape ", t.shape().str(),
             "; expected rank ", expected);
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* op, const char* arg_a,
                      const char* arg_b) {
  check_defined(a, op, arg_a);
  check_defined(b, op, arg_b);
  LORY_CHECK(a.shape() == b.shape(), op, ": '", arg_a, "' has shape ", a.shape().str(), " but '",
             arg_b, "' has shape ", b.shape().str(), "; expected equal shapes");
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op, const char* arg_a,
                       const char* arg_b) {
  LORY_CHECK(a.device() == b.device(), op, ": '", arg_a, "' is on ", device_name(a.device()),
             " but '", arg_b, "' is on ", device_name(b.device()), "; expected the same device");
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op, const char* arg_a,
                      const char* arg_b) {
  LORY_CHECK(a.dtype() == b.dtype(), op, ": '", arg_a, "' is ", dtype_name(a.dtype()), " but '",
             arg_b, "' is ", dtype_name(b.dtype()), "; expected the same dtype");
}

}  // namespace lory
