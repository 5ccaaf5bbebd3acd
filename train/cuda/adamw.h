// AdamW and the global gradient norm on the GPU: multi-tensor launchers for train/adamw.cpp.
// Every list holds `count` tensors of one dtype `dt` (f32, bf16 or f64) given by host arrays of
// device pointers and element counts; moments are fp32. The arithmetic runs in double, in the
// order of the CPU kernels (no fused multiply-adds), so a step matches the CPU to rounding.
#pragma once
#include "core/cuda/api.h"

namespace lory::cuda {

// For each tensor k:  m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,
//   p ← p − lr·( m·inv_c1 / (sqrt(v)·inv_sqrt_c2 + eps) + weight_decay[k]·p )
// with inv_c1 = 1/(1 − β1ᵗ), inv_sqrt_c2 = 1/sqrt(1 − β2ᵗ) computed by the caller.
LORY_CUDA_API(adamw_step(DType dt, int count, void* const* params, const void* const* grads,
                         float* const* exp_avg, float* const* exp_avg_sq, const int64_t* numel,
                         const double* weight_decay, double lr, double beta1, double beta2,
                         double eps, double inv_c1, double inv_sqrt_c2))

// *result (host) = Σ_k Σ_i x_k[i]², deterministic: per-block partials over a fixed geometry,
// then one ordered sum. Waits for the result (one device-to-host copy).
LORY_CUDA_API(sum_squares(DType dt, int count, const void* const* xs, const int64_t* numel,
                          double* result))

// x_k[i] ← x_k[i] · s for every tensor (in double, rounded once to dt).
LORY_CUDA_API(scale_tensors(DType dt, int count, void* const* xs, const int64_t* numel, double s))

}  // namespace lory::cuda
