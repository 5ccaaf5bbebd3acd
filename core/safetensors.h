// safetensors: named tensors on disk in the format of the Python `safetensors` package, so our
// checkpoints open with safetensors.torch.load_file and we read the files it writes.
//
//   save_safetensors("model.safetensors", {{"wte", wte}, {"lm_head", w}}, {{"step", "100"}});
//   NamedTensors m = load_safetensors("model.safetensors");
//   const Tensor* wte = m.find("wte");       // nullptr when absent
//
// Layout (little-endian throughout):
//   u64 N | N bytes of UTF-8 JSON, padded with spaces so the data starts 8-byte aligned | data
// The JSON header is {"__metadata__": {string: string}, "<name>": {"dtype": "F32", "shape": [2, 3],
// "data_offsets": [begin, end]}, ...}; offsets are bytes into the data section, which the
// tensors fill exactly, back to back, without gaps or overlaps.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace lory {

struct NamedTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in the order of their data in the file
  std::map<std::string, std::string> metadata;          // the header's "__metadata__" (or empty)
  // The tensor called `name`, or nullptr.
  const Tensor* find(const std::string& name) const;
};

// Writes `tensors` (any dtype; GPU tensors are copied to the host) to `path + ".tmp"`, flushes it
// to disk and renames it to `path`, so a crash never leaves a half-written file. Byte for byte
// what the Python package writes for the same tensors: the header holds "__metadata__" first
// (omitted when empty; its keys sorted; the Python package orders keys of a multi-key metadata
// dict arbitrarily) and then the tensors ordered by dtype (F64, F32, I32, BF16, i.e. descending
// alignment) and then by name (bytewise), with their data in that same order.
// Throws lory::Error for an undefined tensor, an empty, duplicate or reserved ("__metadata__")
// name, text that is not valid UTF-8, or a failed write.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor of the file into CPU tensors (each named after its entry). Validates the
// whole file first and throws lory::Error naming the file and the problem: too short, absurd
// header length (beyond the file or over 100 MB), header not a JSON object, duplicate keys,
// unknown dtype, bad shape or data_offsets, a byte count that disagrees with shape and dtype, or
// regions that overlap, leave gaps or do not fill the data section. Header entries may come in
// any order (as the Python package accepts); extra keys in an entry are rejected.
NamedTensors load_safetensors(const std::string& path);

}  // namespace lory
