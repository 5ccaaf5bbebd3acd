// Generation: one forward pass over the prompt, then one token at a time through the caches.
#include "models/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/autograd.h"
#include "ops/cast.h"
#include "ops/narrow.h"

namespace lory {

namespace {

void check(const SamplingOptions& o) {
  LORY_CHECK(o.max_new_tokens >= 0, "generate: max_new_tokens is ", o.max_new_tokens,
             "; expected >= 0");
  LORY_CHECK(o.temperature >= 0.0 && std::isfinite(o.temperature), "generate: temperature is ",
             o.temperature, "; expected a finite number >= 0 (0: greedy)");
  LORY_CHECK(o.top_k >= 0, "generate: top_k is ", o.top_k, "; expected >= 0 (0: all tokens)");
  LORY_CHECK(o.top_p > 0.0 && o.top_p <= 1.0, "generate: top_p is ", o.top_p,
             "; expected a probability in (0, 1]");
  LORY_CHECK(o.stop_token >= -1, "generate: stop_token is ", o.stop_token,
             "; expected a token id or -1 (never stop)");
}

}  // namespace

int32_t sample_token(const float* logits, int64_t V, const SamplingOptions& o, Generator& gen) {
  check(o);
  if (o.temperature <= 0.0)
    return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
  // Candidates sorted by logit (ties to the lower id), cut by top-k, softmax with temperature,
  // cut by top-p, then one draw.
  std::vector<int32_t> ids(V);
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  if (o.top_k > 0 && o.top_k < V) ids.resize(o.top_k);
  std::vector<double> p(ids.size());
  const double top = logits[ids[0]];
  double total = 0;
  for (size_t i = 0; i < ids.size(); ++i) total += p[i] = std::exp((logits[ids[i]] - top) / o.temperature);
  size_t keep = ids.size();
  if (o.top_p < 1.0) {
    double mass = 0;
    for (keep = 0; keep < ids.size();)
      if ((mass += p[keep++] / total) >= o.top_p) break;
  }
  double kept = std::accumulate(p.begin(), p.begin() + keep, 0.0);
  double u = gen.uniform() * kept;
  for (size_t i = 0; i < keep; ++i)
    if ((u -= p[i]) < 0) return ids[i];
  return ids[keep - 1];
}

std::vector<int32_t> generate(Transformer& model, const std::vector<int32_t>& prompt,
                              const SamplingOptions& o) {
  check(o);
  LORY_CHECK(!prompt.empty(), "generate: the prompt is empty; expected at least one token");
  const int64_t V = model.config().vocab;
  for (size_t i = 0; i < prompt.size(); ++i)
    LORY_CHECK(prompt[i] >= 0 && prompt[i] < V, "generate: prompt token ", i, " is ", prompt[i],
               "; expected 0..", V - 1);
  NoGradGuard no_grad;
  model.set_prompt_only_routing(o.prompt_only_routing);
  DecodeState state = model.new_decode_state();
  Generator gen(o.seed);
  const int64_t budget = std::min<int64_t>(o.max_new_tokens, model.config().max_seq - prompt.size());
  std::vector<int32_t> out;
  Tensor logits = model.forward(Tensor::from_vector(prompt, {1, static_cast<int64_t>(prompt.size())}), &state);
  for (int64_t step = 0; step < budget; ++step) {
    // Sampling runs on the host (the same seeded draw on every device): the last position's
    // logits, cut and cast to f32 where they are, cross in one copy of V floats; the chosen id
    // goes back with the next forward pass. That is the one host round trip per token.
    Tensor row = ops::narrow(logits, 1, logits.size(1) - 1, 1);  // (1,1,V)
    if (row.dtype() != DType::f32) row = ops::cast(row, DType::f32);
    row = row.to(Device::cpu);
    int32_t next = sample_token(row.data<float>(), V, o, gen);
    out.push_back(next);
    if (next == o.stop_token || step + 1 == budget) break;
    logits = model.forward(Tensor::from_vector(std::vector<int32_t>{next}, {1, 1}), &state);
  }
  return out;
}

}  // namespace lory
