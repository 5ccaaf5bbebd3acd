// The training loop: data, model (with the dense warm-up and upcycling of LORY.md §3), AdamW with
// a cosine schedule and clipping, metrics, evaluation, checkpoints, resume, Ctrl-C.
//
// Files under out_dir:
//   config.json     the resolved training config
//   metrics.jsonl   one line per logged step and per evaluation; deterministic: the same config
//                   and seed give the same file, bit for bit (on the CPU, same thread count)
//   timing.jsonl    tokens/s, elapsed time and memory per logged step (never deterministic)
//   checkpoints/    step_N directories (train/checkpoint.h)
#pragma once
#include <memory>
#include <string>

#include "models/transformer.h"
#include "train/train_config.h"

namespace lory {

struct TrainResult {
  int64_t steps = 0;
  double final_loss = 0;
  double tokens_per_second = 0;
  std::string checkpoint;  // the last checkpoint written
  bool interrupted = false;
};

// Runs (or, with resume, continues from the newest checkpoint in out_dir) a training run.
// Progress goes to stderr: a progress bar on a terminal, periodic lines otherwise.
TrainResult train(const TrainConfig& config, bool resume = false, bool quiet = false);

// Loads the model of a checkpoint directory (its trainer.json names the model config) and places
// it on `device` with `precision` (checkpoints are device-independent; bf16 needs cuda). The
// caller holds a Tf32Guard for tf32.
std::unique_ptr<Transformer> load_model(const std::string& checkpoint, Device device = Device::cpu,
                                        Precision precision = Precision::fp32);

// "cpu" or "cuda", checked against this build and machine: a clear error says what is missing
// (a CUDA build, or a GPU). The trainer and the command-line options share it.
Device resolve_device(const std::string& name);
// The bf16-needs-cuda rule, one message for the trainer and the command line.
void check_precision_device(Precision precision, Device device);

}  // namespace lory
