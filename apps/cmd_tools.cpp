// lory bench | gradcheck: throughput of a model config; gradient checks of ops and models.
#include <climits>
#include <cstdio>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/placement.h"
#include "core/cpu_peak.h"
#include "core/threads.h"
#include "models/transformer.h"
#include "ops/catalog.h"
#include "train/step_bench.h"

namespace lory::cli {

int cmd_bench(int argc, char** argv) {
  Args a("lory bench --config MODEL.json [--batch B] [--seq-len L] [--steps N] [--device NAME]",
         "Times full training steps (forward, backward, clipping, AdamW) of a model config and "
         "prints tokens/s, model GFLOP/s and the peak memory; on the CPU also the fraction of this "
         "machine's measured FP32 peak (bench/gpu_check.sh measures the GPU's).",
         with_placement({{"config", "FILE", "model config (JSON)", ""},
                         {"batch", "B", "sequences per step", "8"},
                         {"seq-len", "L", "sequence length", "256"},
                         {"steps", "N", "timed steps (median reported)", "5"},
                         {"threads", "N", "CPU threads (0: all)", "0"}},
                        true));
  if (!a.parse(argc, argv, 0)) return 0;
  const long long threads = a.get_int("threads", 0, INT_MAX), batch = a.get_int("batch", 1),
                  seq_len = a.get_int("seq-len", 1), steps = a.get_int("steps", 1, INT_MAX);
  if (threads > 0) set_num_threads(static_cast<int>(threads));
  const Placement p = placement(a);
  ModelConfig c = ModelConfig::from_file(a.get("config"));
  const bool cpu = p.device == Device::cpu;
  const CpuPeak peak = cpu ? measure_cpu_peak(num_threads(), 3) : CpuPeak{};
  StepBenchResult r =
      bench_training_step(c, batch, seq_len, static_cast<int>(steps), 1, p.device, p.precision);
  const double peak_gflops = peak.core_gflops * num_threads();
  std::printf("model      %s, D %lld, %lld layers, E %lld, T %lld: %.2fM parameters, %.2fM active\n",
              ffn_kind_name(c.ffn), static_cast<long long>(c.d_model),
              static_cast<long long>(c.n_layers), static_cast<long long>(c.n_experts),
              static_cast<long long>(c.segment_len), r.params / 1e6, r.active_params / 1e6);
  if (cpu)
    std::printf("threads    %d; measured FP32 peak %.1f GFLOP/s (%.1f per core)\n", num_threads(),
                peak_gflops, peak.core_gflops);
  else
    std::printf("device     cuda, precision %s\n", precision_name(p.precision));
  std::printf("step       %.1f ms (median of %lld)\n", r.step_ms, steps);
  std::printf("tokens/s   %.0f\n", r.tokens_per_s);
  if (cpu)
    std::printf("model      %.1f GFLOP/s = %.1f%% of peak\n", r.model_gflops, 100 * r.model_gflops / peak_gflops);
  else
    std::printf("model      %.1f GFLOP/s\n", r.model_gflops);
  std::printf("memory     peak %.1f MiB%s\n", r.peak_bytes / 1048576.0, cpu ? "" : " (GPU)");
  return 0;
}

int cmd_gradcheck(int argc, char** argv) {
  Args a("lory gradcheck [--op NAME | --config MODEL.json]",
         "Compares autograd's gradients with central finite differences in float64: every op of "
         "the catalog (default), one op, or every parameter of a (small) model config.",
         {{"op", "NAME", "one op of the catalog (see the list with --op list)", ""},
          {"config", "FILE", "model config: check the loss with respect to every parameter", ""},
          {"eps", "E", "finite-difference step", "1e-6"},
          {"seq-len", "L", "model check: tokens per sequence (default: 2 segments)", ""}});
  if (!a.parse(argc, argv, 0)) return 0;
  GradcheckOptions opt;
  opt.eps = a.get_double("eps", 0.0, 1.0, true);
  bool all_ok = true;
  if (a.flag("config")) {
    ModelConfig c = ModelConfig::from_file(a.get("config"));
    if (c.ffn == FfnKind::lory && c.first_segment == FirstSegment::self_stopgrad) {
      std::printf("note: first_segment self_stopgrad is a stop-gradient, which finite differences "
                  "see through; checking with first_segment uniform instead\n");
      c.first_segment = FirstSegment::uniform;
    }
    const int64_t L = a.flag("seq-len") ? a.get_int("seq-len", 1)
                                        : (c.ffn == FfnKind::lory ? 2 * c.segment_len : 8);
    Transformer model(c, DType::f64);
    std::printf("model: %.0f parameters; this takes 2 forward passes per parameter\n",
                static_cast<double>(model.parameter_count()));
    Generator gen(3);
    std::vector<int32_t> ids(2 * L), targets(2 * L);
    for (auto& v : ids) v = static_cast<int32_t>(gen.below(c.vocab));
    for (auto& v : targets) v = static_cast<int32_t>(gen.below(c.vocab));
    Tensor x = Tensor::from_vector(ids, {2, L}), y = Tensor::from_vector(targets, {2, L});
    NamedParams params = model.parameters();
    std::vector<Tensor> inputs;
    for (auto& [name, p] : params) inputs.push_back(p);
    GradcheckResult r = gradcheck([&](const std::vector<Tensor>&) { return model.loss(x, y).total; }, inputs, opt);
    std::printf("%-28s %8s %12s %12s  %s\n", "parameter", "elements", "max_abs_err", "max_rel_err", "result");
    for (const auto& in : r.inputs)
      std::printf("%-28s %8lld %12.3e %12.3e  %s\n", params[in.index].first.c_str(),
                  static_cast<long long>(in.checked), in.max_abs_err, in.max_rel_err, in.ok ? "pass" : "FAIL");
    all_ok = r.ok;
  } else {
    const std::string which = a.flag("op") ? a.get("op") : "";
    if (which == "list") {
      for (const auto& c : ops::op_catalog()) std::printf("%-22s %s\n", c.name.c_str(), c.shapes.c_str());
      return 0;
    }
    std::printf("%-22s %-44s %5s %12s %12s  %s\n", "op", "inputs", "input", "max_abs_err", "max_rel_err", "result");
    int matched = 0;
    for (const auto& c : ops::op_catalog()) {
      if (!which.empty() && c.name != which && c.name.rfind(which + ".", 0) != 0) continue;
      ++matched;
      Generator gen(1);
      GradcheckResult r = gradcheck(c.fn, c.inputs(gen, DType::f64), opt);
      for (const auto& in : r.inputs)
        std::printf("%-22s %-44s %5d %12.3e %12.3e  %s\n", c.name.c_str(), c.shapes.c_str(), in.index,
                    in.max_abs_err, in.max_rel_err, in.ok ? "pass" : "FAIL");
      all_ok = all_ok && r.ok;
    }
    LORY_CHECK(matched > 0, "no op named '", which, "' in the catalog (see lory gradcheck --op list)");
  }
  std::printf("%s\n", all_ok ? "all gradients agree" : "SOME GRADIENTS DISAGREE");
  return all_ok ? 0 : 1;
}

}  // namespace lory::cli
