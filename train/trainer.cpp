// The training loop. Reads top to bottom: set-up (or resume), then one optimizer step at a time
// with logging, evaluation and checkpoints between steps.
#include "train/trainer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/json_reader.h"
#include "core/precision.h"
#include "core/threads.h"
#include "data/loader.h"
#include "data/ordering.h"
#include "models/lory_moe.h"
#include "ops/ops.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/routing_stats.h"
#include "train/schedule.h"

namespace fs = std::filesystem;

namespace lory {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

struct Run {
  TrainConfig cfg;
  std::shared_ptr<const ShardData> train, valid;
  std::unique_ptr<Loader> loader;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<AdamW> opt;
  bool dense_phase = false;
  int64_t step = 0;  // optimizer steps done
  int32_t eot = 0;
  Device device = Device::cpu;
  Precision precision = Precision::fp32;
};

// A model built (or loaded) on the CPU goes to the run's device and precision; optimizers are
// created after this, so their state lives next to the parameters.
void place(const Run& r, Transformer& model) {
  model.to(r.device);
  model.set_precision(r.precision);
}

ModelConfig phase_config(const TrainConfig& c, bool dense) {
  ModelConfig m = c.model;
  if (dense) m.ffn = FfnKind::dense;
  return m;
}

// Dense warm-up is over: every FFN becomes E identical experts, their Adam moments too
// (LORY.md §3 DECISION); routers start fresh with zero moments.
void upcycle_run(Run& r) {
  auto lory = std::make_unique<Transformer>(upcycle(*r.model, r.cfg.model));
  place(r, *lory);
  auto opt = std::make_unique<AdamW>(lory->parameters(), r.cfg.adamw);
  const int64_t E = r.cfg.model.n_experts;
  for (const auto& [name, p] : r.model->parameters()) {
    const bool expert = name.find(".ffn.") != std::string::npos;
    for (auto moment : {&AdamW::exp_avg, &AdamW::exp_avg_sq}) {
      const Tensor& from = ((*r.opt).*moment)(name);
      ((*opt).*moment)(name).copy_(expert ? replicate_experts(from, E) : from);
    }
  }
  opt->set_steps(r.opt->steps());
  r.model = std::move(lory);
  r.opt = std::move(opt);
  r.dense_phase = false;
}

nlohmann::json trainer_state(const Run& r) {
  return {{"format", "lory-trainer"},
          {"step", r.step},
          {"phase", r.dense_phase ? "dense" : "main"},
          {"optimizer_steps", r.opt->steps()},
          {"loader", r.loader->state()},
          {"model_config", r.model->config().to_json()},
          {"config", r.cfg.to_json()}};
}

std::string save(const Run& r) {
  return save_checkpoint((fs::path(r.cfg.out_dir) / "checkpoints").string(), r.step,
                         r.model->parameters(), r.opt->state(), trainer_state(r),
                         r.cfg.keep_checkpoints);
}

// The first key path at which two configs differ, e.g. "/data/batch_size: 8 there, 16 here".
std::string first_difference(const nlohmann::json& saved, const nlohmann::json& now) {
  nlohmann::json patch = nlohmann::json::diff(saved, now);
  if (patch.empty()) return "";
  const std::string path = patch[0]["path"];
  nlohmann::json::json_pointer ptr(path);
  std::string there = saved.contains(ptr) ? saved.at(ptr).dump() : "absent";
  std::string here = now.contains(ptr) ? now.at(ptr).dump() : "absent";
  return path + " is " + there + " in the checkpoint but " + here + " now";
}

void resume_run(Run& r, const std::string& checkpoint) {
  CheckpointContents c = load_checkpoint(checkpoint);
  const nlohmann::json& t = c.trainer;
  LORY_CHECK(t.value("format", "") == "lory-trainer", "resume: '", checkpoint,
             "/trainer.json' is not a lory trainer state");
  // Bookkeeping keys (intervals, threads) may change between runs; what defines the run may not.
  const std::string diff =
      first_difference(TrainConfig::from_json(t.at("config")).identity(), r.cfg.identity());
  LORY_CHECK(diff.empty(), "resume: refusing to continue '", checkpoint,
             "' with a different config: ", diff);
  r.step = t.at("step").get<int64_t>();
  r.dense_phase = t.at("phase") == "dense";
  r.model = std::make_unique<Transformer>(phase_config(r.cfg, r.dense_phase));
  assign_named(c.model, r.model->parameters(), checkpoint + "/model.safetensors");
  place(r, *r.model);
  r.opt = std::make_unique<AdamW>(r.model->parameters(), r.cfg.adamw);
  r.opt->load_state(c.optimizer, t.at("optimizer_steps").get<int64_t>());  // copied to the device
  r.loader->load_state(t.at("loader"));
}

// Keeps the metrics lines an uninterrupted run had written when it saved the checkpoint of
// `step`: those of steps <= `step`, except events at `step` (the upcycle that ends the dense
// warm-up is logged after that checkpoint, and the resumed run logs it again).
void truncate_metrics(const std::string& path, int64_t step) {
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json m = nlohmann::json::parse(line);
    const int64_t s = m.value("step", int64_t{0});
    if (s < step || (s == step && !m.contains("event"))) kept += line + "\n";
  }
  in.close();
  std::ofstream(path, std::ios::trunc) << kept;
}

void check_finite(const Run& r, double loss, double grad_norm) {
  if (std::isfinite(loss) && std::isfinite(grad_norm)) return;
  std::string culprit = "none found";
  for (const auto& [name, p] : r.model->parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    bool bad = false;
    for (float v : g.to_vector<float>()) bad = bad || !std::isfinite(v);
    if (bad) {
      culprit = name;
      break;
    }
  }
  LORY_FAIL("training diverged at step ", r.step + 1, ": loss ", loss, ", gradient norm ",
            grad_norm, "; first parameter with a non-finite gradient: ", culprit,
            ". The last checkpoint is intact; try a lower learning rate or stronger clipping");
}

std::string format_duration(double seconds) {
  char buf[32];
  const int s = static_cast<int>(seconds);
  std::snprintf(buf, sizeof buf, s >= 3600 ? "%dh%02dm" : "%dm%02ds", s >= 3600 ? s / 3600 : s / 60,
                s >= 3600 ? (s / 60) % 60 : s % 60);
  return buf;
}

}  // namespace

TrainResult train(const TrainConfig& config, bool resume, bool quiet) {
  Run r;
  r.cfg = config;
  if (r.cfg.threads > 0) set_num_threads(r.cfg.threads);
  r.device = resolve_device(r.cfg.device);
  r.precision = parse_precision(r.cfg.precision);
  check_precision_device(r.precision, r.device);
  Tf32Guard tf32(r.precision == Precision::tf32);  // GPU GEMMs only; restored on return
  LORY_CHECK(!fs::exists(r.cfg.out_dir) || fs::is_directory(r.cfg.out_dir),
             "training config: out_dir '", r.cfg.out_dir,
             "' exists and is not a directory; expected a directory for the run");
  fs::create_directories(r.cfg.out_dir);

  // Data: the training shard in the configured document order, and the held-out shard.
  r.train = std::make_shared<const ShardData>(read_shard(r.cfg.train_shard));
  check_fits_vocab(*r.train, r.cfg.model.vocab, r.cfg.train_shard);
  r.eot = end_of_text_id(*r.train);
  std::vector<int64_t> order;
  if (r.cfg.order_file.empty()) {
    for (int64_t i = 0; i < r.train->num_docs(); ++i) order.push_back(i);
  } else {
    order = order_indices(read_order_file(r.cfg.order_file).ids, *r.train, r.cfg.order_file);
  }
  LoaderOptions lo;
  lo.batch_size = r.cfg.batch_size;
  lo.seq_len = r.cfg.seq_len;
  lo.eot = r.eot;
  lo.seed = r.cfg.seed;
  r.loader = std::make_unique<Loader>(r.train, order, lo);
  if (!r.cfg.valid_shard.empty()) {
    r.valid = std::make_shared<const ShardData>(read_shard(r.cfg.valid_shard));
    check_fits_vocab(*r.valid, r.cfg.model.vocab, r.cfg.valid_shard);
  }

  // Model and optimizer: fresh, or from the newest checkpoint.
  const std::string metrics_path = (fs::path(r.cfg.out_dir) / "metrics.jsonl").string();
  const std::string timing_path = (fs::path(r.cfg.out_dir) / "timing.jsonl").string();
  const std::string ckpt_dir = (fs::path(r.cfg.out_dir) / "checkpoints").string();
  const int64_t total = r.cfg.total_steps(), warm = r.cfg.dense_warmup_steps();
  const std::string latest = resume ? latest_checkpoint(ckpt_dir) : "";
  LORY_CHECK(!resume || !latest.empty(), "resume: no checkpoint under '", ckpt_dir, "'");
  if (!latest.empty()) {
    resume_run(r, latest);
    truncate_metrics(metrics_path, r.step);
    truncate_metrics(timing_path, r.step);
  } else {
    r.dense_phase = warm > 0;
    r.model = std::make_unique<Transformer>(phase_config(r.cfg, r.dense_phase));
    place(r, *r.model);
    r.opt = std::make_unique<AdamW>(r.model->parameters(), r.cfg.adamw);
    std::ofstream(metrics_path, std::ios::trunc);
    std::ofstream(timing_path, std::ios::trunc);
  }
  write_json_file((fs::path(r.cfg.out_dir) / "config.json").string(), r.cfg.to_json());
  std::ofstream metrics(metrics_path, std::ios::app), timing(timing_path, std::ios::app);

  CosineSchedule schedule{r.cfg.lr, r.cfg.min_lr_ratio,
                          static_cast<int64_t>(r.cfg.warmup_frac * total), total};
  EvalOptions eval_opt{r.cfg.seq_len, r.cfg.batch_size, r.cfg.eval_batches,
                       default_skip(r.cfg.model, r.cfg.seq_len), r.eot};
  const int64_t tokens_per_step = r.cfg.batch_size * r.cfg.seq_len * r.cfg.grad_accum;
  const bool tty = isatty(STDERR_FILENO) && !quiet;
  g_interrupted = false;
  auto previous_handler = std::signal(SIGINT, on_interrupt);

  TrainResult result;
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  double window_seconds = 0;  // training time since the last log line (no eval, no checkpoints)
  int64_t window_steps = 0;
  const int64_t first_step = r.step;
  while (r.step < total) {
    if (r.dense_phase && r.step >= warm) {
      upcycle_run(r);
      metrics << nlohmann::json{{"step", r.step}, {"event", "upcycle"}}.dump() << "\n";
    }
    // One optimizer step over grad_accum micro-batches.
    const auto step_start = clock::now();
    double loss = 0, ce = 0, aux = 0;
    for (int64_t micro = 0; micro < r.cfg.grad_accum; ++micro) {
      Batch batch = r.loader->next();
      LossParts parts = r.model->loss(batch.inputs().to(r.device), batch.targets().to(r.device));
      ops::mul_scalar(parts.total, 1.0 / static_cast<double>(r.cfg.grad_accum)).backward();
      loss += parts.total.item() / r.cfg.grad_accum;
      ce += parts.ce.item() / r.cfg.grad_accum;
      if (parts.aux.defined()) aux += parts.aux.item() / r.cfg.grad_accum;
    }
    const NamedParams params = r.model->parameters();
    const double grad_norm = clip_grad_norm(params, r.cfg.clip);
    check_finite(r, loss, grad_norm);
    const double lr = schedule.lr(r.step);
    r.opt->step(lr);
    r.opt->zero_grad();
    ++r.step;
    ++window_steps;
    window_seconds += std::chrono::duration<double>(clock::now() - step_start).count();
    result.final_loss = loss;

    const bool last = r.step == total;
    if (r.step % r.cfg.log_interval == 0 || last) {
      nlohmann::json m{{"step", r.step}, {"loss", loss}, {"ce", ce}, {"lr", lr},
                       {"grad_norm", grad_norm}, {"tokens", r.step * tokens_per_step},
                       {"phase", r.dense_phase ? "dense" : "main"}};
      if (aux != 0) m["aux"] = aux;
      std::vector<Tensor> routing = r.model->routing_weights();
      for (size_t l = 0; l < routing.size(); ++l) m["routing"].push_back(to_json(routing_stats(routing[l])));
      metrics << m.dump() << "\n";
      metrics.flush();
      const double tps = window_steps * tokens_per_step / std::max(window_seconds, 1e-9);
      const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
      const MemoryStats mem = memory_stats(r.device);
      timing << nlohmann::json{{"step", r.step}, {"tokens_per_s", tps}, {"elapsed_s", elapsed},
                               {"live_bytes", mem.live_bytes}, {"peak_bytes", mem.peak_bytes}}
                    .dump()
             << "\n";
      timing.flush();
      result.tokens_per_second = tps;
      window_seconds = 0;
      window_steps = 0;
      if (!quiet) {
        const double eta = (total - r.step) * elapsed / std::max<int64_t>(1, r.step - first_step);
        const int filled = static_cast<int>(30 * r.step / total);
        std::fprintf(stderr, tty ? "\rstep %lld/%lld [%s%s] loss %.4f lr %.2e %.0f tok/s ETA %s   "
                                 : "step %lld/%lld [%s%s] loss %.4f lr %.2e %.0f tok/s ETA %s\n",
                     static_cast<long long>(r.step), static_cast<long long>(total),
                     std::string(filled, '#').c_str(), std::string(30 - filled, '.').c_str(), loss,
                     lr, tps, format_duration(eta).c_str());
      }
    }
    if (r.valid && ((r.cfg.eval_interval > 0 && r.step % r.cfg.eval_interval == 0) || last)) {
      nlohmann::json scores = to_json(evaluate(*r.model, *r.valid, eval_opt));
      metrics << nlohmann::json{{"step", r.step}, {"eval", scores}}.dump() << "\n";
      metrics.flush();
    }
    const bool interrupted = g_interrupted.load();
    if (last || interrupted ||
        (r.cfg.checkpoint_interval > 0 && r.step % r.cfg.checkpoint_interval == 0))
      result.checkpoint = save(r);
    if (interrupted) {
      result.interrupted = true;
      if (!quiet) std::fprintf(stderr, "\ninterrupted: saved %s\n", result.checkpoint.c_str());
      break;
    }
  }
  if (tty) std::fprintf(stderr, "\n");
  std::signal(SIGINT, previous_handler);
  result.steps = r.step;
  return result;
}

Device resolve_device(const std::string& name) {
  if (name == "cpu") return Device::cpu;
  LORY_CHECK(name == "cuda", "device is '", name, "'; expected 'cpu' or 'cuda'");
#ifndef LORY_WITH_CUDA
  LORY_FAIL("device 'cuda' requested but this build has no CUDA backend; reconfigure with "
            "-DLORY_CUDA=ON on a machine with the CUDA toolkit, or use device 'cpu'");
#endif
  LORY_CHECK(cuda::available(), "device 'cuda' requested but no CUDA device is present; use "
             "device 'cpu'");
  return Device::cuda;
}

void check_precision_device(Precision precision, Device device) {
  LORY_CHECK(precision != Precision::bf16 || device == Device::cuda,
             "precision 'bf16' needs device 'cuda' (the CPU has no bf16 kernels); use 'fp32' on "
             "the CPU");
}

std::unique_ptr<Transformer> load_model(const std::string& checkpoint, Device device,
                                        Precision precision) {
  check_precision_device(precision, device);
  CheckpointContents c = load_checkpoint(checkpoint);
  LORY_CHECK(c.trainer.contains("model_config"), "checkpoint '", checkpoint,
             "': trainer.json has no model_config");
  auto model = std::make_unique<Transformer>(ModelConfig::from_json(c.trainer.at("model_config")));
  assign_named(c.model, model->parameters(), checkpoint + "/model.safetensors");
  model->to(device);  // loaded into host tensors, then copied once
  model->set_precision(precision);
  return model;
}

}  // namespace lory
