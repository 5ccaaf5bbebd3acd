// CPU-vs-GPU parity helpers: run the same function on CPU inputs and on their GPU copies,
// backpropagate the same seed, and compare outputs and every input gradient by normalised mean
// squared error  NMSE = Σ (gpu − cpu)² / Σ cpu²  (0 when both are exactly zero).
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "catch_compat.h"
#include "core/cuda/blas.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/storage.h"
#include "core/tensor.h"

namespace lory::test {

// Call first in every GPU test file's first test: exits with "skipped" where there is no GPU.
inline void require_gpu() {
  if (!cuda::available()) LORY_SKIP_ALL("no CUDA device (or a build without CUDA)");
}

// NMSE of gpu against the reference cpu. `floor_ms` (default 0: none) is a lower bound on the
// reference's mean square, for a quantity that may be zero in exact arithmetic: see run_parity.
inline double nmse(const Tensor& gpu, const Tensor& cpu, double floor_ms = 0) {
  std::vector<double> a = gpu.to_vector<double>(), b = cpu.to_vector<double>();
  REQUIRE(a.size() == b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  den = std::max(den, floor_ms * static_cast<double>(b.size()));
  if (den == 0) return num == 0 ? 0.0 : 1.0;
  return num / den;
}

inline double mean_square(const Tensor& t) {
  double s = 0;
  for (double v : t.to_vector<double>()) s += v * v;
  return t.numel() ? s / static_cast<double>(t.numel()) : 0.0;
}

// A gradient is compared with its reference mean square floored at kRelativeFloor times the
// largest mean square among the call's gradients: one that is exactly zero in exact arithmetic
// while its siblings are O(1) (attention's dq and dk with a single visible key) is round-off on
// both devices, and round-off divided by round-off says nothing.
constexpr double kRelativeFloor = 1e-6;

struct ParityResult {
  double output = 0;               // NMSE of the output
  std::vector<double> gradients;   // NMSE of each differentiable input's gradient (-1: none)
  double worst() const {
    double w = output;
    for (double g : gradients) w = std::max(w, g);
    return w;
  }
};

// Runs fn on `cpu_inputs` (f32, on the CPU, some requiring grad) and on copies of them on the GPU
// (cast to `gpu_dtype` for floating inputs), backpropagates the same random seed through both,
// and compares. Integer inputs (ids) are copied unchanged.
inline ParityResult run_parity(const TensorFn& fn, const std::vector<Tensor>& cpu_inputs,
                               uint64_t seed = 7, DType gpu_dtype = DType::f32) {
  std::vector<Tensor> gpu_inputs;
  for (const Tensor& t : cpu_inputs) {
    Tensor g = t.detach().to(Device::cuda);
    if (g.dtype() != DType::i32 && g.dtype() != gpu_dtype) g = g.to(gpu_dtype);
    if (t.requires_grad()) g.set_requires_grad();
    gpu_inputs.push_back(g);
  }
  Tensor out_cpu = fn(cpu_inputs);
  Tensor out_gpu = fn(gpu_inputs);
  REQUIRE(out_gpu.device() == Device::cuda);
  REQUIRE(out_gpu.shape() == out_cpu.shape());
  ParityResult r;
  r.output = nmse(out_gpu, out_cpu);
  if (out_cpu.requires_grad()) {
    Generator gen(seed);
    Tensor dy = Tensor::randn(out_cpu.shape(), gen, 1.0, out_cpu.dtype());
    // Both devices get the same seed: rounded to the GPU's dtype first (a no-op in fp32).
    if (out_gpu.dtype() != dy.dtype()) dy = dy.to(out_gpu.dtype()).to(dy.dtype());
    out_cpu.backward(dy);
    out_gpu.backward(dy.to(Device::cuda).to(out_gpu.dtype()));
  }
  double largest_ms = 0;
  for (const Tensor& t : cpu_inputs)
    if (t.requires_grad() && t.grad().defined())
      largest_ms = std::max(largest_ms, mean_square(t.grad()));
  for (size_t i = 0; i < cpu_inputs.size(); ++i) {
    if (!cpu_inputs[i].requires_grad()) continue;
    Tensor gc = cpu_inputs[i].grad(), gg = gpu_inputs[i].grad();
    if (!gc.defined() && !gg.defined()) {
      r.gradients.push_back(-1);
      continue;
    }
    REQUIRE(gc.defined());
    REQUIRE(gg.defined());
    REQUIRE(gg.device() == Device::cuda);
    r.gradients.push_back(nmse(gg, gc, kRelativeFloor * largest_ms));
  }
  return r;
}

}  // namespace lory::test
