// Text generation with a KV cache: greedy, temperature, top-k and top-p sampling, seeded.
// Lory models route by the prompt (one decision per layer, the paper's default) or per segment.
#pragma once
#include <cstdint>
#include <vector>

#include "models/transformer.h"

namespace lory {

struct SamplingOptions {
  int64_t max_new_tokens = 64;
  double temperature = 1.0;  // 0 means greedy (argmax)
  int64_t top_k = 0;         // keep the k most likely tokens (0: all)
  double top_p = 1.0;        // keep the smallest set whose probability reaches top_p
  uint64_t seed = 0;
  int32_t stop_token = -1;   // stop after generating this token (-1: never)
  bool prompt_only_routing = true;
};

// Picks the next token from one row of logits (V values).
int32_t sample_token(const float* logits, int64_t V, const SamplingOptions& options, Generator& gen);

// Generates up to max_new_tokens after `prompt` (not included in the result).
std::vector<int32_t> generate(Transformer& model, const std::vector<int32_t>& prompt,
                              const SamplingOptions& options);

}  // namespace lory
