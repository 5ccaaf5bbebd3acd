// Checkpoint directories: atomic write (temporary directory + rename), listing, checked loading.
#include "train/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/json_reader.h"
#include "core/safetensors.h"

namespace fs = std::filesystem;

namespace lory {
namespace {

std::string step_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%08lld", static_cast<long long>(step));
  return buf;
}

// Complete checkpoints (directories named step_N, with trainer.json) sorted by step.
std::vector<fs::path> list_checkpoints(const std::string& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind("step_", 0) == 0 &&
        name.find('.') == std::string::npos && fs::exists(entry.path() / "trainer.json"))
      out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string save_checkpoint(const std::string& dir, int64_t step, const NamedParams& model,
                            const NamedParams& optimizer, const nlohmann::json& trainer,
                            int keep) {
  fs::create_directories(dir);
  const fs::path final_path = fs::path(dir) / step_name(step);
  const fs::path tmp = fs::path(dir) / (step_name(step) + ".tmp");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  save_safetensors((tmp / "model.safetensors").string(), model, {{"format", "lory"}});
  save_safetensors((tmp / "optimizer.safetensors").string(), optimizer, {{"format", "lory"}});
  write_json_file((tmp / "trainer.json").string(), trainer);
  fs::remove_all(final_path);
  fs::rename(tmp, final_path);
  if (keep > 0) {
    auto all = list_checkpoints(dir);
    for (size_t i = 0; i + keep < all.size(); ++i) fs::remove_all(all[i]);
  }
  return final_path.string();
}

CheckpointContents load_checkpoint(const std::string& path) {
  LORY_CHECK(fs::is_directory(path), "checkpoint '", path,
             "' is not a directory; expected <run>/checkpoints/step_N");
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "trainer.json"})
    LORY_CHECK(fs::exists(fs::path(path) / f), "checkpoint '", path, "' has no ", f,
               " (an incomplete or foreign directory)");
  CheckpointContents c;
  c.model = load_safetensors((fs::path(path) / "model.safetensors").string()).tensors;
  c.optimizer = load_safetensors((fs::path(path) / "optimizer.safetensors").string()).tensors;
  c.trainer = read_json_file((fs::path(path) / "trainer.json").string());
  LORY_CHECK(c.trainer.is_object(), "checkpoint '", path, "': trainer.json is not an object");
  return c;
}

std::string latest_checkpoint(const std::string& dir) {
  auto all = list_checkpoints(dir);
  return all.empty() ? std::string() : all.back().string();
}

void assign_named(const NamedParams& from, const NamedParams& into, const std::string& what) {
  for (const auto& [name, dst] : into) {
    auto it = std::find_if(from.begin(), from.end(), [&](const auto& p) { return p.first == name; });
    LORY_CHECK(it != from.end(), what, " has no tensor '", name, "'");
    LORY_CHECK(it->second.shape() == dst.shape() && it->second.dtype() == dst.dtype(), what,
               ": tensor '", name, "' is ", it->second.str(), " but the model expects ",
               dtype_name(dst.dtype()), " ", dst.shape().str());
    Tensor d = dst;
    d.copy_(it->second);
  }
  LORY_CHECK(from.size() == into.size(), what, " holds ", from.size(), " tensors but ",
             into.size(), " were expected; it belongs to a different model");
}

}  // namespace lory
