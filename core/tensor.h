// Tensor: a cheap handle to a contiguous, row-major block of one dtype on one device, plus its
// autograd identity (requires_grad, grad, grad_fn). Copying a Tensor copies the handle.
//
//   Generator gen(42);
//   Tensor w = Tensor::randn({3, 4}, gen).set_requires_grad();
//   Tensor y = ops::sum(ops::matmul(x, w));   // records the graph
//   y.backward();                             // w.grad() now holds dy/dw
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"
#include "core/storage.h"

namespace lory {

struct Node;
class Generator;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements, into storage
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient (leaves, or retained non-leaves)
  std::shared_ptr<Node> grad_fn;     // the node that produced this tensor (non-leaves)
  std::string name;
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- factories (no autograd history) -----------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu);
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu);
  // Copies `values` (numel must match the shape) into a new CPU tensor of dtype_of<T>().
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  // 0, 1, ..., n-1
  static Tensor arange(int64_t n, DType dtype = DType::i32, Device device = Device::cpu);
  // Counter-based random numbers: the same generator state gives the same values on any thread
  // count and device. Each call advances the generator by numel.
  static Tensor randn(const Shape& shape, Generator& gen, double std = 1.0,
                      DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor uniform(const Shape& shape, Generator& gen, double lo = 0.0, double hi = 1.0,
                        DType dtype = DType::f32, Device device = Device::cpu);

  // --- metadata ------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int rank() const { return shape().rank(); }
  int64_t size(int dim) const { return shape()[dim]; }
  int64_t numel() const { return shape().numel(); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  const std::string& name() const { return impl().name; }
  Tensor& set_name(std::string name);
  std::string str() const;  // "f32 cpu (2, 3) 'name'"

  // --- data access -------------------------------------------------------------------------
  // Typed pointer to the first element; checks dtype (and that the tensor is on the CPU).
  template <typename T>
  T* data() const;
  void* raw_data() const;  // on whatever device the tensor lives
  // Copies to the host and converts every element to T (any dtype, any device).
  template <typename T>
  std::vector<T> to_vector() const;
  double item() const;               // the single element of a one-element tensor
  double at(int64_t flat_index) const;  // one element by flat index (tests, printing)

  // --- copies and conversions (no autograd history) ----------------------------------------
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor clone() const;
  // Same storage, no history: what backward closures save instead of their own output.
  Tensor detach() const;
  // Same storage, new shape with the same numel. Autograd-aware reshaping is ops::reshape.
  Tensor view(const Shape& shape) const;
  void copy_(const Tensor& src);  // same shape and dtype; any devices
  // Makes this handle (a leaf) refer to src's data, shape, dtype and device, keeping its name and
  // requires_grad and dropping its gradient: how a model's parameters move between dtypes and
  // devices in place (everyone holding the handle sees the change).
  void set_data(const Tensor& src);
  void fill_(double value);
  void zero_() { fill_(0.0); }

  // --- autograd ------------------------------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  // Marks a leaf as a parameter (or input) whose gradient backward() accumulates.
  Tensor& set_requires_grad(bool on = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  Tensor grad() const { return Tensor(impl().grad); }
  void set_grad(const Tensor& g);
  // Zeroes the gradient in place (its buffer is kept for the next accumulation).
  void zero_grad();
  // A non-leaf keeps its gradient after backward (for analysis and tests).
  Tensor& retain_grad();
  // Gradient of this one-element tensor (or with an explicit seed `grad_output`) with respect to
  // every leaf that requires grad; gradients ACCUMULATE into the leaves' grad().
  void backward() const;
  void backward(const Tensor& grad_output) const;

  TensorImpl* impl_ptr() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& shared_impl() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  TensorImpl& impl() const {
    LORY_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

// Named tensors in a fixed order: a model's parameters, an optimizer's state.
using NamedParams = std::vector<std::pair<std::string, Tensor>>;

// dst += src, element-wise (same shape, dtype and device). The one arithmetic kernel the core
// needs: autograd uses it to accumulate gradients.
void accumulate_(const Tensor& dst, const Tensor& src);
// a + b in a new tensor, in one pass (what a.clone() then accumulate_(·, b) gives, bit for bit).
Tensor sum_of(const Tensor& a, const Tensor& b);

// Checks used by every op's argument validation; messages name the op and the argument.
void check_defined(const Tensor& t, const char* op, const char* arg);
void check_dtype(const Tensor& t, DType expected, const char* op, const char* arg);
void check_floating(const Tensor& t, const char* op, const char* arg);
void check_rank(const Tensor& t, int expected, const char* op, const char* arg);
void check_same_shape(const Tensor& a, const Tensor& b, const char* op, const char* arg_a,
                      const char* arg_b);
void check_same_device(const Tensor& a, const Tensor& b, const char* op, const char* arg_a,
                       const char* arg_b);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op, const char* arg_a,
                      const char* arg_b);

// bf16 <-> f32 on the host (round to nearest even), for conversions and tests.
uint16_t float_to_bf16(float f);
float bf16_to_float(uint16_t b);

}  // namespace lory
