// Training-step throughput: forward, backward, clipping and AdamW on random tokens, timed per
// step. Model FLOPs are counted as 6 · (active non-embedding parameters) per token plus causal
// attention 6 · n_layers · L · D per token (forward 2·L·D: QKᵀ and PV over L/2 keys on average;
// backward twice that) — the merge of a Lory layer is overhead, not model FLOPs.
#pragma once
#include <cstdint>
#include <vector>

#include "core/profiler.h"

#include "models/transformer.h"

namespace lory {

struct StepBenchResult {
  double tokens_per_s = 0;   // median over the timed steps
  double step_ms = 0;        // median
  double model_gflops = 0;   // model FLOPs per second at the median step
  int64_t peak_bytes = 0;    // peak live bytes during the timed steps (the device's allocator)
  int64_t params = 0, active_params = 0;
  // Per-op profile over `profile_steps` extra steps run after the timed ones (profiler on), with
  // the optimizer (clipping and AdamW) as a section; profile_step_ms is their mean wall time.
  std::vector<profiler::OpTime> profile;
  int profile_steps = 0;
  double profile_step_ms = 0;
};

double model_flops_per_token(const ModelConfig& c, int64_t L);

// Times `steps` training steps after `warmup` untimed ones (batch B of length L), then profiles
// `profile_steps` more (0: none). On the GPU (device cuda) each step ends with a device
// synchronisation before the clock stops; precision as in docs/training.md (tf32 sets TF32
// GEMMs for the call).
StepBenchResult bench_training_step(const ModelConfig& c, int64_t B, int64_t L, int steps,
                                    int warmup = 1, Device device = Device::cpu,
                                    Precision precision = Precision::fp32, int profile_steps = 0);

// Prints r's per-op profile (forward and backward ms per op kind, % of the step) under a title;
// nothing when r has no profile.
void print_step_profile(const char* title, const StepBenchResult& r);

}  // namespace lory
