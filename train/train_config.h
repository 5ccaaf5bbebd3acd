// TrainConfig: everything a training run needs, from one JSON file. Every key is documented in
// docs/training.md; unknown keys are rejected with a suggestion.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "models/config.h"
#include "train/adamw.h"

namespace lory {

struct TrainConfig {
  ModelConfig model;
  // data
  std::string train_shard;   // token shard of the training documents
  std::string valid_shard;   // token shard of the held-out documents ("" : no evaluation)
  std::string order_file;    // document order ("" : the shard's own order)
  int64_t seq_len = 256;     // L
  int64_t batch_size = 8;    // B sequences per micro-batch
  int64_t grad_accum = 1;    // micro-batches per optimizer step
  // optimizer and schedule
  AdamWOptions adamw;
  double lr = 2e-3;             // peak learning rate
  double min_lr_ratio = 0.1;    // cosine floor, as a fraction of lr
  double warmup_frac = 0.05;    // linear warm-up over this fraction of the steps
  double clip = 1.0;            // global gradient-norm clip (0: off)
  // length
  int64_t steps = 0;            // optimizer steps; or
  int64_t tokens = 0;           // a token budget (steps = tokens / (B·L·accum))
  double dense_warmup_frac = 0.05;  // Lory: train the dense model first, then upcycle
  // bookkeeping
  int64_t log_interval = 10;
  int64_t eval_interval = 100;  // 0: only at the end
  int64_t eval_batches = 4;     // per domain
  int64_t checkpoint_interval = 0;  // 0: only at the end
  int keep_checkpoints = 2;
  std::string out_dir = "runs/run";
  uint64_t seed = 1;            // data order and shuffling (the model has its own seed)
  int threads = 0;              // 0: all cores
  std::string device = "cpu";   // "cpu" | "cuda"
  std::string precision = "fp32";  // "fp32" | "tf32" | "bf16" (Precision in models/transformer.h)

  int64_t total_steps() const;
  int64_t dense_warmup_steps() const;  // 0 unless a Lory model
  // Relative paths in the file are resolved against its directory.
  static TrainConfig from_json(const nlohmann::json& j, const std::string& base_dir = ".");
  static TrainConfig from_file(const std::string& path);
  nlohmann::json to_json() const;
  // What makes two runs the same run (for --resume): model, data, optimizer, length, seed.
  nlohmann::json identity() const;
};

}  // namespace lory
