// Training-step throughput: forward, backward, clipping and AdamW on random tokens, timed per
// step. Model FLOPs are counted as 6 · (active non-embedding parameters) per token plus causal
// attention 6 · n_layers · L · D per token (forward 2·L·D: QKᵀ and PV over L/2 keys on average;
// backward twice that) — the merge of a Lory layer is overhead, not model FLOPs.
#pragma once
#include <cstdint>

#include "models/transformer.h"

namespace lory {

struct StepBenchResult {
  double tokens_per_s = 0;   // median over the timed steps
  double step_ms = 0;        // median
  double model_gflops = 0;   // model FLOPs per second at the median step
  int64_t peak_bytes = 0;    // peak live bytes during the timed steps (the device's allocator)
  int64_t params = 0, active_params = 0;
};

double model_flops_per_token(const ModelConfig& c, int64_t L);

// Times `steps` training steps after `warmup` untimed ones (batch B of length L).
// On the GPU (device cuda) each step ends with a device synchronisation before the clock stops;
// precision as in docs/training.md (tf32 sets TF32 GEMMs for the call).
StepBenchResult bench_training_step(const ModelConfig& c, int64_t B, int64_t L, int steps,
                                    int warmup = 1, Device device = Device::cpu,
                                    Precision precision = Precision::fp32);

}  // namespace lory
