// Per-domain evaluation through the loader (unshuffled), two cross-entropies per batch.
#include "train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/autograd.h"
#include "data/loader.h"
#include "ops/ops.h"

namespace lory {

double DomainScore::ppl() const { return std::exp(loss); }
double DomainScore::ppl_after_T() const { return std::exp(loss_after_T); }

namespace {

void check(const EvalOptions& o) {
  LORY_CHECK(o.seq_len >= 1 && o.batch_size >= 1 && o.max_batches >= 1, "evaluation: seq_len ",
             o.seq_len, ", batch_size ", o.batch_size, ", max_batches ", o.max_batches,
             "; expected each at least 1");
  LORY_CHECK(o.skip >= 0 && o.skip < o.seq_len, "evaluation: skip is ", o.skip, "; expected 0..",
             o.seq_len - 1, " (positions >= skip of a sequence of ", o.seq_len, "; 0: none)");
}

}  // namespace

void for_each_domain_batch(const ShardData& valid, const EvalOptions& o,
                           const std::function<void(const std::string&, const Batch&)>& fn) {
  check(o);
  auto shard = std::make_shared<const ShardData>(valid);
  for (int32_t d = 0; d < static_cast<int32_t>(valid.domains.size()); ++d) {
    std::vector<int64_t> docs;
    for (int64_t i = 0; i < valid.num_docs(); ++i)
      if (valid.docs[i].domain == d) docs.push_back(i);
    if (docs.empty()) continue;
    LoaderOptions lo;
    lo.seq_len = o.seq_len;
    lo.eot = o.eot;
    lo.shuffle = false;
    Loader loader(shard, docs, lo);
    const int64_t n = std::min(loader.num_instances(), o.max_batches * o.batch_size);
    for (int64_t first = 0; first < n; first += o.batch_size) {
      const int64_t B = std::min(o.batch_size, n - first), L = o.seq_len;
      Batch batch;
      batch.tokens = Tensor::empty({B, L + 1}, DType::i32);
      for (int64_t b = 0; b < B; ++b)
        loader.instance_tokens(first + b, batch.tokens.data<int32_t>() + b * (L + 1));
      fn(valid.domains[d], batch);
    }
  }
}

std::map<std::string, DomainScore> evaluate(Transformer& model, const ShardData& valid,
                                            const EvalOptions& o) {
  NoGradGuard no_grad;
  std::map<std::string, double> sum, sum_after;
  std::map<std::string, DomainScore> out;
  const int64_t L = o.seq_len, skip = o.skip;
  for_each_domain_batch(valid, o, [&](const std::string& domain, const Batch& batch) {
    const int64_t B = batch.tokens.size(0);
    Tensor targets = batch.targets();
    // Logits in the parameters' dtype (fp32 under bf16 precision), on the model's device.
    Tensor logits = ops::reshape(ops::cast(model.forward(batch.inputs()), model.dtype()),
                                 Shape{B * L, model.config().vocab});
    sum[domain] += ops::cross_entropy(logits, targets.view({B * L}).to(logits.device())).item() *
                   static_cast<double>(B * L);
    if (skip > 0) {  // the same logits, positions < skip ignored
      int32_t* t = targets.data<int32_t>();
      for (int64_t b = 0; b < B; ++b) std::fill(t + b * L, t + b * L + skip, -100);
      sum_after[domain] += ops::cross_entropy(logits, targets.view({B * L}).to(logits.device())).item() *
                           static_cast<double>(B * (L - skip));
    }
    out[domain].tokens += B * L;
    out[domain].tokens_after_T += B * (L - skip);
  });
  for (auto& [domain, s] : out) {
    s.loss = sum[domain] / static_cast<double>(s.tokens);
    s.loss_after_T = skip > 0 ? sum_after[domain] / static_cast<double>(s.tokens_after_T) : s.loss;
  }
  return out;
}

nlohmann::json to_json(const std::map<std::string, DomainScore>& scores) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [domain, s] : scores)
    j[domain] = {{"loss", s.loss},
                 {"ppl", s.ppl()},
                 {"loss_after_T", s.loss_after_T},
                 {"ppl_after_T", s.ppl_after_T()},
                 {"tokens", s.tokens}};
  return j;
}

}  // namespace lory
