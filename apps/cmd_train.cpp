// lory train | eval | generate | routing: training and using checkpoints.
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/placement.h"
#include "core/json_reader.h"
#include "core/precision.h"
#include "core/threads.h"
#include "data/tokenizer.h"
#include "models/generate.h"
#include "train/checkpoint.h"
#include "train/routing_analysis.h"
#include "train/trainer.h"

namespace lory::cli {
namespace {

// A checkpoint directory, or a run directory (its newest checkpoint).
std::string resolve_checkpoint(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::exists(fs::path(path) / "trainer.json")) return path;
  std::string latest = latest_checkpoint((fs::path(path) / "checkpoints").string());
  LORY_CHECK(!latest.empty(), "'", path, "' is neither a checkpoint nor a run directory with checkpoints");
  return latest;
}

EvalOptions eval_options(const Args& a, const Transformer& model, const ShardData& shard) {
  check_fits_vocab(shard, model.config().vocab, a.get("data"));
  EvalOptions o;
  o.seq_len = a.get_int("seq-len", 1);
  o.batch_size = a.get_int("batch", 1);
  o.max_batches = a.get_int("batches", 1);
  model.config().validate_sequence_length(o.seq_len);
  o.skip = a.flag("skip") ? a.get_int("skip", 0, o.seq_len - 1)
                          : default_skip(model.config(), o.seq_len);
  o.eot = end_of_text_id(shard);
  return o;
}

const std::vector<Option> kEvalOptions = {
    {"checkpoint", "DIR", "checkpoint directory, or a run directory (its newest checkpoint)", ""},
    {"data", "SHARD", "held-out token shard", ""},
    {"seq-len", "L", "sequence length", "256"},
    {"batch", "B", "sequences per batch", "8"},
    {"batches", "N", "batches per domain", "8"},
    {"threads", "N", "CPU threads (0: all)", "0"},
};

void set_threads(const Args& a) {
  const long long threads = a.get_int("threads", 0, INT_MAX);
  if (threads > 0) set_num_threads(static_cast<int>(threads));
}

}  // namespace

int cmd_train(int argc, char** argv) {
  Args a("lory train --config FILE [--resume] [--quiet]",
         "Trains a model as the training config says (docs/training.md lists every key). Metrics go "
         "to <out_dir>/metrics.jsonl, checkpoints to <out_dir>/checkpoints; Ctrl-C saves one and stops.",
         {{"config", "FILE", "training config (JSON)", ""},
          {"resume", "", "continue from the newest checkpoint in out_dir", ""},
          {"quiet", "", "no progress output", ""},
          {"device", "NAME", "overrides the config's device: cpu or cuda", ""},
          {"precision", "P", "overrides the config's precision: fp32, tf32 or bf16 (GPU)", ""}});
  if (!a.parse(argc, argv, 0)) return 0;
  TrainConfig cfg = TrainConfig::from_file(a.get("config"));
  if (a.flag("device")) cfg.device = a.get("device");  // checked when training starts
  if (a.flag("precision")) cfg.precision = a.get("precision");
  TrainResult r = train(cfg, a.flag("resume"), a.flag("quiet"));
  std::printf("%s %lld steps, final loss %.4f, %.0f tokens/s; checkpoint %s\n",
              r.interrupted ? "interrupted after" : "trained", static_cast<long long>(r.steps),
              r.final_loss, r.tokens_per_second, r.checkpoint.c_str());
  return r.interrupted ? 130 : 0;
}

int cmd_eval(int argc, char** argv) {
  Args a("lory eval --checkpoint DIR --data SHARD [options]",
         "Per-domain validation loss and perplexity, over all positions and over positions >= T "
         "(segments 2..N): a table, or JSON with --json.",
         [] {
           std::vector<Option> o = kEvalOptions;
           o.push_back({"json", "", "print JSON instead of a table", ""});
           o.push_back({"skip", "T", "also score positions >= T only (default: the model's segment_len)", ""});
           return with_placement(o, true);
         }());
  if (!a.parse(argc, argv, 0)) return 0;
  set_threads(a);
  const Placement p = placement(a);
  Tf32Guard tf32(p.precision == Precision::tf32);
  auto model = load_model(resolve_checkpoint(a.get("checkpoint")), p.device, p.precision);
  ShardData shard = read_shard(a.get("data"));
  const EvalOptions o = eval_options(a, *model, shard);
  auto scores = evaluate(*model, shard, o);
  if (a.flag("json")) {
    std::printf("%s\n", to_json(scores).dump(2).c_str());
    return 0;
  }
  std::printf("%-12s %10s %12s %12s%s\n", "domain", "tokens", "loss", "ppl",
              o.skip > 0 ? " ppl (pos >= T)" : "");
  for (const auto& [domain, s] : scores) {
    std::printf("%-12s %10lld %12.4f %12.2f", domain.c_str(), static_cast<long long>(s.tokens),
                s.loss, s.ppl());
    if (o.skip > 0) std::printf(" %14.2f", s.ppl_after_T());
    std::printf("\n");
  }
  return 0;
}

int cmd_routing(int argc, char** argv) {
  std::vector<Option> options = kEvalOptions;
  options.push_back({"out", "FILE", "write the JSON here (default: stdout; a run's report reads <run>/routing.json)", ""});
  Args a("lory routing --checkpoint DIR --data SHARD [--out FILE]",
         "Mean routing weight per (layer, expert, domain) on held-out text and the Jensen-Shannon "
         "divergence between domains per layer (how specialised the experts are). Runs in fp32.",
         with_placement(options, false));
  if (!a.parse(argc, argv, 0)) return 0;
  set_threads(a);
  const Placement p = placement(a);
  auto model = load_model(resolve_checkpoint(a.get("checkpoint")), p.device, p.precision);
  ShardData shard = read_shard(a.get("data"));
  RoutingAnalysis r = analyse_routing(*model, shard, eval_options(a, *model, shard));
  if (a.flag("out"))
    write_json_file(a.get("out"), r.to_json());
  else
    std::printf("%s\n", r.to_json().dump(2).c_str());
  return 0;
}

int cmd_generate(int argc, char** argv) {
  Args a("lory generate --checkpoint DIR --tokenizer FILE --prompt TEXT [options]",
         "Samples a continuation of the prompt. Lory models route by the prompt (one decision per "
         "layer, the paper's default) or per segment (--routing segment).",
         with_placement({{"checkpoint", "DIR", "checkpoint directory, or a run directory", ""},
          {"tokenizer", "FILE", "tokenizer JSON", ""},
          {"prompt", "TEXT", "the prompt", ""},
          {"max-tokens", "N", "tokens to generate", "100"},
          {"temperature", "T", "sampling temperature (0: greedy)", "0.8"},
          {"top-k", "K", "keep the K most likely tokens (0: all)", "40"},
          {"top-p", "P", "nucleus sampling threshold", "0.95"},
          {"seed", "S", "sampling seed", "0"},
          {"routing", "MODE", "Lory routing: prompt | segment", "prompt"},
          {"threads", "N", "CPU threads (0: all)", "0"}},
                        true));
  if (!a.parse(argc, argv, 0)) return 0;
  set_threads(a);
  SamplingOptions o;
  o.max_new_tokens = a.get_int("max-tokens", 0);
  o.temperature = a.get_double("temperature", 0.0, INFINITY);
  o.top_k = a.get_int("top-k", 0);
  o.top_p = a.get_double("top-p", 0.0, 1.0, true);
  o.seed = static_cast<uint64_t>(a.get_int("seed", 0));
  const std::string mode = a.get("routing");
  LORY_CHECK(mode == "prompt" || mode == "segment", "--routing is '", mode,
             "'; expected prompt or segment");
  const Placement p = placement(a);
  Tf32Guard tf32(p.precision == Precision::tf32);
  auto model = load_model(resolve_checkpoint(a.get("checkpoint")), p.device, p.precision);
  Tokenizer tok = Tokenizer::load(a.get("tokenizer"));
  o.stop_token = tok.eot_id();
  o.prompt_only_routing = mode == "prompt";
  const std::string prompt = a.get("prompt");
  std::vector<int32_t> out = generate(*model, tok.encode(prompt), o);
  if (!out.empty() && out.back() == o.stop_token) out.pop_back();
  std::printf("%s%s\n", prompt.c_str(), tok.decode(out).c_str());
  return 0;
}

}  // namespace lory::cli
