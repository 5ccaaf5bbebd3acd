// bench_gpu_model: training-step throughput on the GPU (forward, backward, clip, AdamW) for the
// two GPU configs, dense and Lory-8E, in bf16 mixed precision (or --precision):
//   (a) V8192 D512 8 layers 8 heads F1408, L1024, Lory T128, B32
//   (b) V32000 D1024 24 layers 16 heads F2816, L4096, Lory T256, B4
// Prints tokens/s, model TFLOP/s (6 · active non-embedding params + attention, as
// train/step_bench.h counts), the fraction of the measured bf16 GEMM peak (--peak-tflops, from
// bench_gpu_gemm) and the allocator's peak GPU memory. Each table row is followed by the same
// numbers as one JSON line (printed as soon as the run ends: a time-boxed caller keeps them).
//
//   ./build/bench_gpu_model [--steps 5] [--peak-tflops 700] [--config a|b|all] [--profile N]
//                           [--ffn dense|lory|all] [--precision bf16|tf32|fp32]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/storage.h"
#include "train/step_bench.h"

using namespace lory;

namespace {

struct GpuConfig {
  const char* name;
  ModelConfig model;
  int64_t B, L;
};

GpuConfig config_a(FfnKind ffn) {
  ModelConfig c;
  c.vocab = 8192;
  c.d_model = 512;
  c.n_layers = 8;
  c.n_heads = 8;
  c.d_ff = 1408;
  c.max_seq = 1024;
  c.ffn = ffn;
  c.n_experts = 8;
  c.segment_len = 128;
  return {"a", c, 32, 1024};
}

GpuConfig config_b(FfnKind ffn) {
  ModelConfig c;
  c.vocab = 32000;
  c.d_model = 1024;
  c.n_layers = 24;
  c.n_heads = 16;
  c.d_ff = 2816;
  c.max_seq = 4096;
  c.ffn = ffn;
  c.n_experts = 8;
  c.segment_len = 256;
  return {"b", c, 4, 4096};
}

const char* arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = std::atoi(arg(argc, argv, "--steps", "5"));
  const double peak_tflops = std::atof(arg(argc, argv, "--peak-tflops", "0"));
  const std::string which = arg(argc, argv, "--config", "all");
  const std::string ffns = arg(argc, argv, "--ffn", "all");
  // --profile N: N more steps with the per-op profiler (a device sync around every op).
  const int profile_steps = std::atoi(arg(argc, argv, "--profile", "0"));
  Precision precision = Precision::bf16;
  try {
    precision = parse_precision(arg(argc, argv, "--precision", "bf16"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu_model: %s\n", e.what());
    return 2;
  }
  if (!cuda::available()) {
    std::fprintf(stderr, "bench_gpu_model: no CUDA device (or a build without CUDA); nothing to do\n");
    return 77;
  }
  std::printf("GPU training step, precision %s, %d timed steps (median), peak %s\n",
              precision_name(precision), steps,
              peak_tflops > 0 ? (std::to_string(peak_tflops) + " TFLOP/s (bf16 GEMM, measured)").c_str()
                              : "not given (--peak-tflops)");
  std::printf("model FLOPs/token = 6 x active non-embedding params + 6 x layers x L x D (attention)\n\n");
  std::printf("%-10s %10s %10s %8s %9s %12s %14s\n", "run", "tokens/s", "TFLOP/s", "% peak",
              "step ms", "peak GPU MiB", "active params");
  int failures = 0;
  std::vector<std::pair<std::string, StepBenchResult>> profiles;
  for (auto make : {config_a, config_b}) {
    for (FfnKind ffn : {FfnKind::dense, FfnKind::lory}) {
      const GpuConfig g = make(ffn);
      if (which != "all" && which != g.name) continue;
      if (ffns != "all" && ffns != ffn_kind_name(ffn)) continue;
      const std::string run = std::string(g.name) + " " + ffn_kind_name(ffn);
      try {
        StepBenchResult r = bench_training_step(g.model, g.B, g.L, steps, 1, Device::cuda, precision,
                                                profile_steps);
        const double tflops = r.model_gflops / 1e3;
        std::printf("%-10s %10.0f %10.1f %7.1f%% %9.1f %12.0f %14lld\n", run.c_str(), r.tokens_per_s,
                    tflops, peak_tflops > 0 ? 100 * tflops / peak_tflops : 0.0, r.step_ms,
                    r.peak_bytes / 1048576.0, static_cast<long long>(r.active_params));
        const nlohmann::json line = {{"config", g.name}, {"ffn", ffn_kind_name(ffn)},
                         {"precision", precision_name(precision)}, {"tokens_per_s", r.tokens_per_s},
                         {"tflops", tflops}, {"step_ms", r.step_ms}, {"peak_bytes", r.peak_bytes},
                         {"params", r.params}, {"active_params", r.active_params},
                         {"peak_fraction", peak_tflops > 0 ? tflops / peak_tflops : 0.0}};
        std::printf("%s\n", line.dump().c_str());
        std::fflush(stdout);
        if (profile_steps > 0) profiles.emplace_back(run, r);
      } catch (const std::exception& e) {
        std::printf("%-10s FAILED: %s\n", run.c_str(), e.what());
        std::fflush(stdout);
        ++failures;
      }
    }
  }
  for (const auto& [run, r] : profiles) print_step_profile(run.c_str(), r);
  return failures == 0 ? 0 : 1;
}
