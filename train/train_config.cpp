// TrainConfig: JSON reading with checks and path resolution.
#include "train/train_config.h"

#include <filesystem>

#include "core/json_reader.h"

namespace lory {

int64_t TrainConfig::total_steps() const {
  if (steps > 0) return steps;
  return std::max<int64_t>(1, tokens / (batch_size * seq_len * grad_accum));
}

int64_t TrainConfig::dense_warmup_steps() const {
  if (model.ffn != FfnKind::lory) return 0;
  return static_cast<int64_t>(dense_warmup_frac * static_cast<double>(total_steps()));
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j, const std::string& base_dir) {
  JsonReader r(j, "training config");
  TrainConfig c;
  auto path = [&](const std::string& p) {
    if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
    return (std::filesystem::path(base_dir) / p).lexically_normal().string();
  };
  LORY_CHECK(r.has("model"), "training config: key 'model' is missing; expected the model config "
                             "(an object, or the path of a model JSON file)");
  if (j.at("model").is_string()) {
    c.model = ModelConfig::from_file(path(r.get_string("model", "")));
  } else {
    c.model = ModelConfig::from_json(r.get_object("model"));
  }

  JsonReader d(r.get_object("data"), "training config: data");
  c.train_shard = path(d.get_string("train", ""));
  c.valid_shard = path(d.get_string("valid", ""));
  c.order_file = path(d.get_string("order", ""));
  c.seq_len = d.get_int("seq_len", c.seq_len);
  c.batch_size = d.get_int("batch_size", c.batch_size);
  c.grad_accum = d.get_int("grad_accum", c.grad_accum);
  d.finish();
  LORY_CHECK(!c.train_shard.empty(), "training config: data.train is missing; expected a token shard path");

  JsonReader o(r.get_object("optimizer"), "training config: optimizer");
  c.lr = o.get_double("lr", c.lr);
  c.min_lr_ratio = o.get_double("min_lr_ratio", c.min_lr_ratio);
  c.warmup_frac = o.get_double("warmup_frac", c.warmup_frac);
  c.clip = o.get_double("clip", c.clip);
  c.adamw.beta1 = o.get_double("beta1", c.adamw.beta1);
  c.adamw.beta2 = o.get_double("beta2", c.adamw.beta2);
  c.adamw.eps = o.get_double("eps", c.adamw.eps);
  c.adamw.weight_decay = o.get_double("weight_decay", c.adamw.weight_decay);
  o.finish();

  c.steps = r.get_int("steps", c.steps);
  c.tokens = r.get_int("tokens", c.tokens);
  c.dense_warmup_frac = r.get_double("dense_warmup_frac", c.dense_warmup_frac);
  c.log_interval = r.get_int("log_interval", c.log_interval);
  c.eval_interval = r.get_int("eval_interval", c.eval_interval);
  c.eval_batches = r.get_int("eval_batches", c.eval_batches);
  c.checkpoint_interval = r.get_int("checkpoint_interval", c.checkpoint_interval);
  c.keep_checkpoints = static_cast<int>(r.get_int("keep_checkpoints", c.keep_checkpoints));
  c.out_dir = path(r.get_string("out_dir", c.out_dir));
  c.seed = static_cast<uint64_t>(r.get_int("seed", static_cast<int64_t>(c.seed)));
  c.threads = static_cast<int>(r.get_int("threads", c.threads));
  c.device = r.get_string("device", c.device);
  c.precision = r.get_string("precision", c.precision);
  r.finish();

  auto positive = [](const char* key, int64_t v) {
    LORY_CHECK(v >= 1, "training config: '", key, "' is ", v, "; expected a positive integer");
  };
  positive("data.seq_len", c.seq_len);
  positive("data.batch_size", c.batch_size);
  positive("data.grad_accum", c.grad_accum);
  positive("log_interval", c.log_interval);
  positive("eval_batches", c.eval_batches);
  LORY_CHECK(c.steps > 0 || c.tokens > 0,
             "training config: neither 'steps' nor 'tokens' is set; expected one of them > 0");
  LORY_CHECK(c.steps >= 0 && c.tokens >= 0, "training config: 'steps' ", c.steps, ", 'tokens' ",
             c.tokens, "; expected neither negative");
  LORY_CHECK(c.lr > 0, "training config: optimizer.lr is ", c.lr, "; expected > 0");
  LORY_CHECK(c.min_lr_ratio >= 0 && c.min_lr_ratio <= 1,
             "training config: optimizer.min_lr_ratio is ", c.min_lr_ratio,
             "; expected 0 <= value <= 1 (the final learning rate over lr)");
  LORY_CHECK(c.clip >= 0, "training config: optimizer.clip is ", c.clip,
             "; expected >= 0 (0: no clipping)");
  c.adamw.check("training config: optimizer.");
  LORY_CHECK(c.keep_checkpoints >= 0, "training config: 'keep_checkpoints' is ", c.keep_checkpoints,
             "; expected >= 0 (0: keep all)");
  LORY_CHECK(c.warmup_frac >= 0 && c.warmup_frac < 1, "training config: optimizer.warmup_frac is ",
             c.warmup_frac, "; expected 0 <= value < 1");
  LORY_CHECK(c.dense_warmup_frac >= 0 && c.dense_warmup_frac < 1,
             "training config: 'dense_warmup_frac' is ", c.dense_warmup_frac,
             "; expected 0 <= value < 1");
  LORY_CHECK(c.eval_interval >= 0 && c.checkpoint_interval >= 0,
             "training config: intervals must be >= 0");
  LORY_CHECK(c.threads >= 0, "training config: 'threads' is ", c.threads, "; expected >= 0");
  LORY_CHECK(c.device == "cpu" || c.device == "cuda", "training config: 'device' is '", c.device,
             "'; expected 'cpu' or 'cuda'");
  LORY_CHECK(c.precision == "fp32" || c.precision == "tf32" || c.precision == "bf16",
             "training config: 'precision' is '", c.precision, "'; expected 'fp32', 'tf32' or 'bf16'");
  LORY_CHECK(c.precision != "bf16" || c.device == "cuda",
             "training config: 'precision' 'bf16' needs 'device' 'cuda' (the CPU has no bf16 "
             "kernels); use 'fp32' on the CPU");
  c.model.validate_sequence_length(c.seq_len);
  return c;
}

TrainConfig TrainConfig::from_file(const std::string& path) {
  std::string base = std::filesystem::path(path).parent_path().string();
  const nlohmann::json j = read_json_file(path);  // its errors name the file
  try {
    return from_json(j, base.empty() ? "." : base);
  } catch (const Error& e) {
    LORY_FAIL(path, ": ", e.what());
  }
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j = identity();
  j["log_interval"] = log_interval;
  j["eval_interval"] = eval_interval;
  j["eval_batches"] = eval_batches;
  j["checkpoint_interval"] = checkpoint_interval;
  j["keep_checkpoints"] = keep_checkpoints;
  j["out_dir"] = out_dir;
  j["threads"] = threads;
  j["device"] = device;
  j["precision"] = precision;
  return j;
}

nlohmann::json TrainConfig::identity() const {
  return {{"model", model.to_json()},
          {"data",
           {{"train", train_shard},
            {"valid", valid_shard},
            {"order", order_file},
            {"seq_len", seq_len},
            {"batch_size", batch_size},
            {"grad_accum", grad_accum}}},
          {"optimizer",
           {{"lr", lr},
            {"min_lr_ratio", min_lr_ratio},
            {"warmup_frac", warmup_frac},
            {"clip", clip},
            {"beta1", adamw.beta1},
            {"beta2", adamw.beta2},
            {"eps", adamw.eps},
            {"weight_decay", adamw.weight_decay}}},
          {"steps", steps},
          {"tokens", tokens},
          {"dense_warmup_frac", dense_warmup_frac},
          {"seed", seed}};
}

}  // namespace lory
