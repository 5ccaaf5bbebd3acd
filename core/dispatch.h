// Dtype and device dispatch. An op's front function checks its arguments, then runs either its
// CUDA launcher (ops/cuda/<op>.h) when the tensors are on the GPU, or its CPU kernel through
// dispatch_float(t, "op", [&](auto zero) { using T = decltype(zero); ... }), which runs the
// lambda with T = float or double.
#pragma once
#include "core/tensor.h"

namespace lory {

template <typename F>
void dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    default:
      LORY_FAIL(op, ": dtype ", dtype_name(t), " is not supported by the CPU kernel; expected f32 or f64");
  }
}

// The dtype of per-row statistics an op saves for backward (rstd, log-sum-exp): f64 for f64
// tensors, f32 otherwise (bf16 activations keep their statistics in fp32).
inline DType stats_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

// Until an op has a CUDA kernel, its front function calls this to refuse GPU tensors clearly.
inline void check_cpu(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  LORY_CHECK(t.device() == Device::cpu, op, ": argument '", arg, "' is ", t.str(),
             "; this op has no CUDA kernel yet");
}

}  // namespace lory
