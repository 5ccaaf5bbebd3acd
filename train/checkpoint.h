// Checkpoints: a directory per step holding the weights and the optimizer moments as
// safetensors files (readable by the Python `safetensors` package) and the trainer's state as
// JSON. Written under a temporary name and renamed, so a crash never leaves half a checkpoint.
//
//   <run>/checkpoints/step_00001000/model.safetensors      parameters by name
//                                  /optimizer.safetensors  "<param>.exp_avg", "<param>.exp_avg_sq"
//                                  /trainer.json           step, RNG, loader position, config
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace lory {

struct CheckpointContents {
  NamedParams model;
  NamedParams optimizer;
  nlohmann::json trainer;  // whatever the trainer saved (step, loader state, config, ...)
};

// Writes checkpoint `step` under `dir` and deletes all but the newest `keep` (keep <= 0: all).
// Returns the checkpoint's path.
std::string save_checkpoint(const std::string& dir, int64_t step, const NamedParams& model,
                            const NamedParams& optimizer, const nlohmann::json& trainer,
                            int keep);

// Reads a checkpoint directory; errors name the file and the problem.
CheckpointContents load_checkpoint(const std::string& path);

// The newest complete checkpoint under `dir` ("" when there is none).
std::string latest_checkpoint(const std::string& dir);

// Copies `from` into the same-named tensors of `into` (names and shapes must match exactly;
// `what` names the source in messages).
void assign_named(const NamedParams& from, const NamedParams& into, const std::string& what);

}  // namespace lory
