// bench_training_step: a real optimizer step (loss, backward, clip, AdamW) per iteration.
#include "train/step_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "core/cuda/blas.h"
#include "core/precision.h"
#include "core/random.h"
#include "models/transformer.h"
#include "train/adamw.h"

namespace lory {

double model_flops_per_token(const ModelConfig& c, int64_t L) {
  const double D = static_cast<double>(c.d_model), F = static_cast<double>(c.ffn_width());
  const double per_layer_params = 4 * D * D + 3 * D * F * (c.ffn == FfnKind::topk ? c.top_k : 1);
  const double non_embedding = c.n_layers * per_layer_params + D * static_cast<double>(c.vocab);
  return 6 * non_embedding + 6.0 * static_cast<double>(c.n_layers) * static_cast<double>(L) * D;
}

StepBenchResult bench_training_step(const ModelConfig& c, int64_t B, int64_t L, int steps, int warmup,
                                    Device device, Precision precision, int profile_steps) {
  LORY_CHECK(B >= 1, "bench_training_step: batch is ", B, "; expected at least 1 sequence");
  LORY_CHECK(steps >= 1 && warmup >= 0 && profile_steps >= 0, "bench_training_step: ", steps,
             " timed steps, ", warmup, " warm-up and ", profile_steps,
             " profiled; expected at least 1 timed step and no negative counts");
  c.validate_sequence_length(L);
  Tf32Guard tf32(precision == Precision::tf32);
  Transformer model(c);
  model.to(device);
  model.set_precision(precision);
  AdamW opt(model.parameters(), AdamWOptions{});
  Generator gen(7);
  std::vector<int32_t> ids(B * (L + 1));
  for (auto& v : ids) v = static_cast<int32_t>(gen.below(c.vocab));
  Tensor tokens = Tensor::from_vector(ids, {B, L + 1});
  Tensor inputs = Tensor::empty({B, L}, DType::i32), targets = Tensor::empty({B, L}, DType::i32);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L; ++t) {
      inputs.data<int32_t>()[b * L + t] = ids[b * (L + 1) + t];
      targets.data<int32_t>()[b * L + t] = ids[b * (L + 1) + t + 1];
    }
  inputs = inputs.to(device);
  targets = targets.to(device);
  auto step = [&] {
    profiler::mark();  // the forward clock starts here (see core/profiler.h)
    model.loss(inputs, targets).total.backward();
    profiler::SectionTimer optimizer("optimizer (clip + AdamW)");
    clip_grad_norm(model.parameters(), 1.0);
    opt.step(1e-4);
    opt.zero_grad();
  };
  auto sync = [&] {
    if (device == Device::cuda) cuda::synchronize();
  };
  for (int i = 0; i < warmup; ++i) step();
  sync();
  reset_peak_memory(device);
  std::vector<double> ms;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    sync();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  StepBenchResult r;
  r.step_ms = ms[ms.size() / 2];
  r.tokens_per_s = static_cast<double>(B * L) / (r.step_ms / 1000.0);
  r.model_gflops = r.tokens_per_s * model_flops_per_token(c, L) / 1e9;
  r.peak_bytes = memory_stats(device).peak_bytes;
  r.params = model.parameter_count();
  r.active_params = model.active_parameter_count();
  if (profile_steps > 0) {
    profiler::reset();
    if (device == Device::cuda) profiler::set_sync(&cuda::synchronize);
    profiler::set_enabled(true);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < profile_steps; ++i) step();
    r.profile_step_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
        profile_steps;
    profiler::set_enabled(false);
    profiler::set_sync(nullptr);
    r.profile = profiler::snapshot();
    r.profile_steps = profile_steps;
    profiler::reset();
  }
  return r;
}

void print_step_profile(const char* title, const StepBenchResult& r) {
  if (r.profile_steps == 0) return;
  const double n = r.profile_steps;
  std::printf("\n%s: per-op time, mean of %d profiled steps of %.1f ms\n", title, r.profile_steps,
              r.profile_step_ms);
  std::printf("  %-26s %7s %9s %9s %9s %7s\n", "op", "calls", "fwd ms", "bwd ms", "total ms",
              "% step");
  double fwd = 0, bwd = 0;
  for (const profiler::OpTime& o : r.profile) {
    const double f = 1e3 * o.forward_s / n, b = 1e3 * o.backward_s / n;
    fwd += f;
    bwd += b;
    std::printf("  %-26s %7.0f %9.2f %9.2f %9.2f %6.1f%%\n", o.name.c_str(),
                static_cast<double>(o.forward_count) / n, f, b, f + b,
                100 * (f + b) / r.profile_step_ms);
  }
  const double rest = r.profile_step_ms - fwd - bwd;
  std::printf("  %-26s %7s %9.2f %9.2f %9.2f %6.1f%%\n", "sum over ops", "", fwd, bwd, fwd + bwd,
              100 * (fwd + bwd) / r.profile_step_ms);
  std::printf("  %-26s %7s %9s %9s %9.2f %6.1f%%\n", "unattributed (graph, frees)", "", "", "",
              rest, 100 * rest / r.profile_step_ms);
}

}  // namespace lory
