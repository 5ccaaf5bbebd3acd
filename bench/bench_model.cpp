// bench_model: training-step throughput of the cpu-small config (V4096, D256, 4 layers, 4 heads,
// F704, L256, B8) in dense and Lory-8E (T64) form, side by side with the PyTorch twin
// (bench/torch_twin_bench.py) in the same run when python3 with torch is installed.
//
// After the table, a per-op time breakdown of each lory.cpp run (core/profiler.h): forward and
// backward milliseconds per step for every op kind, and its share of the step.
//
// On a shared machine throughput drifts by tens of percent within minutes; with rounds > 1 the
// four runs (ours and PyTorch, dense and Lory) are repeated in turn and the table shows each
// row's median round (every round's figure beside it), so that ratios compare runs made close
// together.
//
//   ./build/bench_model [steps] [threads] [profile_steps=2] [rounds=1]
//   (LORY_BENCH_NO_TWIN=1: skip PyTorch)
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/cpu_peak.h"
#include "core/json_reader.h"
#include "core/threads.h"
#include "train/step_bench.h"

using namespace lory;

namespace {

ModelConfig cpu_small(FfnKind ffn) {
  ModelConfig c;
  c.vocab = 4096;
  c.d_model = 256;
  c.n_layers = 4;
  c.n_heads = 4;
  c.d_ff = 704;
  c.max_seq = 256;
  c.ffn = ffn;
  c.n_experts = 8;
  c.segment_len = 64;
  return c;
}

std::string python_with_torch() {
  if (std::getenv("LORY_BENCH_NO_TWIN")) return "";  // ours only (e.g. for A/B runs)
  for (std::string py : {"python3", "/usr/bin/python3"})
    if (std::system((py + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

// The twin's JSON line for this config, or null when torch is missing or it failed.
nlohmann::json run_twin(const std::string& python, const ModelConfig& c, int steps, int threads) {
  if (python.empty()) return nullptr;
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string cfg = dir + "/lory_bench_model.json", out = dir + "/lory_bench_twin.json";
  write_json_file(cfg, c.to_json());
  // PyTorch at its best: OpenBLAS with its own kernel choice (these variables slow it down).
  const std::string cmd = "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE " + python + " " +
                          LORY_SOURCE_DIR + "/bench/torch_twin_bench.py --config " + cfg +
                          " --batch 8 --seq-len 256 --steps " + std::to_string(steps) +
                          " --threads " + std::to_string(threads) + " > " + out;
  if (std::system(cmd.c_str()) != 0) return nullptr;
  return read_json_file(out);
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 5;
  const int threads = argc > 2 ? std::atoi(argv[2]) : num_threads();
  const int profile_steps = argc > 3 ? std::atoi(argv[3]) : 2;
  set_num_threads(threads);
  std::printf("cpu-small: V4096 D256 4 layers 4 heads F704 L256 B8; Lory E8 T64; %d threads\n", threads);
  double core_peak = measure_cpu_peak(threads, 3).core_gflops;  // and after every run, below
  const std::string python = python_with_torch();
  const int rounds = argc > 4 ? std::max(1, std::atoi(argv[4])) : 1;
  // Per row (ours dense, PyTorch dense, ours Lory, PyTorch Lory): every round's tokens/s.
  std::vector<double> tps[4];
  StepBenchResult results[2];
  nlohmann::json twin_json[2];
  const FfnKind kinds[2] = {FfnKind::dense, FfnKind::lory};
  for (int round = 0; round < rounds; ++round)
    for (int i = 0; i < 2; ++i) {
      const ModelConfig c = cpu_small(kinds[i]);
      StepBenchResult r = bench_training_step(c, 8, 256, steps, 1, Device::cpu, Precision::fp32,
                                              round == 0 ? profile_steps : 0);
      if (round == 0) results[i] = r;
      tps[2 * i].push_back(r.tokens_per_s);
      nlohmann::json t = run_twin(python, c, steps, threads);
      if (!t.is_null()) {
        twin_json[i] = t;
        tps[2 * i + 1].push_back(t["tokens_per_s"].get<double>());
      }
      // The peak again after each run: other jobs only ever slow the FMA loop, and one busy
      // minute before and after the runs had made it read 12% low.
      core_peak = std::max(core_peak, measure_cpu_peak(threads, 3).core_gflops);
    }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  auto rounds_note = [&](const std::vector<double>& v) {
    std::string note;
    if (v.size() < 2) return note;
    note = "  (rounds:";
    for (double x : v) note += " " + std::to_string(static_cast<int>(x + 0.5));
    return note + ")";
  };
  // The peak is the fastest of the measurements before, between and after the runs (the machine
  // drifts).
  core_peak = std::max(core_peak, measure_cpu_peak(threads, 3).core_gflops);
  const double peak_gflops = core_peak * threads;
  std::printf("measured FP32 peak %.1f GFLOP/s (%.1f per core, FMA loop by CPU time)\n", peak_gflops,
              core_peak);
  std::printf("model FLOPs/token = 6 x active non-embedding params + 6 x layers x L x D (attention)\n\n");
  std::printf("%-22s %10s %10s %9s %8s %12s\n", "run", "tokens/s", "GFLOP/s", "% peak", "step ms",
              "peak memory");
  double ours[2] = {0, 0}, twin[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    const ModelConfig c = cpu_small(kinds[i]);
    const double flops = model_flops_per_token(c, 256);
    ours[i] = median(tps[2 * i]);
    std::printf("%-22s %10.0f %10.1f %8.1f%% %8.1f %9.1f MiB%s\n",
                (std::string("lory.cpp ") + ffn_kind_name(kinds[i])).c_str(), ours[i],
                ours[i] * flops / 1e9, 100 * ours[i] * flops / 1e9 / peak_gflops,
                8 * 256 / ours[i] * 1e3, results[i].peak_bytes / 1048576.0,
                rounds_note(tps[2 * i]).c_str());
    if (tps[2 * i + 1].empty()) continue;
    twin[i] = median(tps[2 * i + 1]);
    std::printf("%-22s %10.0f %10.1f %8.1f%% %8.1f %9.1f MiB (max RSS)%s\n",
                (std::string("pytorch ") + ffn_kind_name(kinds[i])).c_str(), twin[i],
                twin[i] * flops / 1e9, 100 * twin[i] * flops / 1e9 / peak_gflops,
                8 * 256 / twin[i] * 1e3, twin_json[i]["max_rss_bytes"].get<double>() / 1048576.0,
                rounds_note(tps[2 * i + 1]).c_str());
  }
  std::printf("\nLory/dense: lory.cpp %.3f", ours[1] / ours[0]);
  if (twin[0] > 0) std::printf(", pytorch %.3f; lory.cpp/pytorch: dense %.2fx, Lory %.2fx", twin[1] / twin[0],
                               ours[0] / twin[0], ours[1] / twin[1]);
  std::printf("\n");
  print_step_profile("lory.cpp dense", results[0]);
  print_step_profile("lory.cpp lory", results[1]);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("lory.cpp process max RSS %.1f MiB%s\n", ru.ru_maxrss / 1024.0,
              !python.empty()                    ? ""
              : std::getenv("LORY_BENCH_NO_TWIN") ? "; PyTorch twin skipped (LORY_BENCH_NO_TWIN)"
                                                  : "; PyTorch twin skipped: python3 with torch not found");
  return 0;
}
