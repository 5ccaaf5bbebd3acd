// Evaluation: validation loss and perplexity per domain on held-out documents, over all
// positions and over positions >= T only (LORY.md §4: segment 1 of a self-routed Lory model sees
// its own future, so comparisons use the latter, for every model alike).
#pragma once
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "data/loader.h"
#include "data/shards.h"
#include "models/transformer.h"

namespace lory {

struct DomainScore {
  double loss = 0, loss_after_T = 0;  // mean cross-entropy (nats/token)
  int64_t tokens = 0, tokens_after_T = 0;
  double ppl() const;
  double ppl_after_T() const;
};

struct EvalOptions {
  int64_t seq_len = 256;
  int64_t batch_size = 8;
  int64_t max_batches = 4;  // per domain
  int64_t skip = 0;         // T for the "after T" figures, < seq_len (0: same as all positions)
  int32_t eot = 0;
};

// The `skip` every evaluation uses unless told otherwise (LORY.md §4): every model, dense
// included, is also scored over positions >= T, when a sequence of seq_len has any.
inline int64_t default_skip(const ModelConfig& model, int64_t seq_len) {
  return model.segment_len < seq_len ? model.segment_len : 0;
}

// Scores every domain of `valid` (documents of that domain in storage order, cut into sequences of
// L+1 tokens). Runs without gradients. Domains with too few tokens for one sequence are skipped.
std::map<std::string, DomainScore> evaluate(Transformer& model, const ShardData& valid,
                                            const EvalOptions& options);

nlohmann::json to_json(const std::map<std::string, DomainScore>& scores);

// Calls fn(domain, batch) for up to max_batches batches of every domain of `valid`: the domain's
// documents in storage order joined by the end-of-text token, cut into rows of L+1 tokens.
void for_each_domain_batch(const ShardData& valid, const EvalOptions& options,
                           const std::function<void(const std::string&, const Batch&)>& fn);

}  // namespace lory
