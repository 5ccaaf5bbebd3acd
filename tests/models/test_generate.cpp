// Generation: cached incremental decoding gives the logits of a full forward pass; sampling.
#include <cmath>

#include "catch_compat.h"
#include "models/generate.h"
#include "ops/ops.h"

using namespace lory;

namespace {

ModelConfig small(FfnKind ffn, FirstSegment first) {
  ModelConfig c;
  c.vocab = 13;
  c.d_model = 8;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_ff = 12;
  c.max_seq = 32;
  c.ffn = ffn;
  c.n_experts = 3;
  c.segment_len = 4;
  c.first_segment = first;
  c.init_std = 0.3;
  c.router_std = 0.5;
  return c;
}

// Logits for `tokens` fed as a prompt of length P, then one token at a time.
std::vector<float> incremental(Transformer& m, const std::vector<int32_t>& tokens, int64_t P) {
  DecodeState st = m.new_decode_state();
  std::vector<float> out =
      m.forward(Tensor::from_vector(std::vector<int32_t>(tokens.begin(), tokens.begin() + P), {1, P}), &st)
          .to_vector<float>();
  for (size_t t = P; t < tokens.size(); ++t) {
    auto step = m.forward(Tensor::from_vector(std::vector<int32_t>{tokens[t]}, {1, 1}), &st).to_vector<float>();
    out.insert(out.end(), step.begin(), step.end());
  }
  return out;
}

void require_close(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).margin(2e-5));
}

const std::vector<int32_t> kTokens{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7};

}  // namespace

TEST_CASE("dense: decoding with the KV cache equals the full forward pass", "[models][generate]") {
  Transformer m(small(FfnKind::dense, FirstSegment::uniform));
  auto full = m.forward(Tensor::from_vector(kTokens, {1, 14})).to_vector<float>();
  require_close(incremental(m, kTokens, 3), full);
  require_close(incremental(m, kTokens, 1), full);
}

TEST_CASE("Lory per-segment decoding equals training-style routing", "[models][generate]") {
  // uniform: every prompt length; self_stopgrad: once the prompt covers segment 1.
  for (auto [first, prompts] : {std::pair{FirstSegment::uniform, std::vector<int64_t>{1, 3, 6}},
                                std::pair{FirstSegment::self_stopgrad, std::vector<int64_t>{4, 7}}}) {
    Transformer m(small(FfnKind::lory, first));
    auto full = m.forward(Tensor::from_vector(kTokens, {1, 14})).to_vector<float>();
    m.set_prompt_only_routing(false);
    for (int64_t P : prompts) {
      INFO(first_segment_name(first) << " prompt " << P);
      require_close(incremental(m, kTokens, P), full);
    }
  }
}

TEST_CASE("Lory prompt-only decoding: one decision from the prompt, kept for every token",
          "[models][generate]") {
  Transformer m(small(FfnKind::lory, FirstSegment::self_stopgrad));
  m.set_prompt_only_routing(true);
  const int64_t P = 5;
  auto stepwise = incremental(m, kTokens, P);
  // The same tokens in two calls (prompt, then the rest at once) give the same logits.
  DecodeState st = m.new_decode_state();
  auto a = m.forward(Tensor::from_vector(std::vector<int32_t>(kTokens.begin(), kTokens.begin() + P), {1, P}), &st)
               .to_vector<float>();
  auto b = m.forward(Tensor::from_vector(std::vector<int32_t>(kTokens.begin() + P, kTokens.end()), {1, 14 - P}), &st)
               .to_vector<float>();
  a.insert(a.end(), b.begin(), b.end());
  require_close(stepwise, a);
  // The routing of every layer stayed at the prompt's decision.
  for (const auto& fs : st.ffn) CHECK(fs.route.shape() == Shape{1, 3});
}

TEST_CASE("sampling: greedy, top-k 1 and tiny top-p agree; seeds reproduce", "[models][generate]") {
  const float logits[5] = {0.1f, 2.0f, -1.0f, 1.9f, 0.0f};
  Generator gen(1);
  SamplingOptions greedy;
  greedy.temperature = 0;
  CHECK(sample_token(logits, 5, greedy, gen) == 1);
  SamplingOptions k1;
  k1.top_k = 1;
  CHECK(sample_token(logits, 5, k1, gen) == 1);
  SamplingOptions p;
  p.top_p = 0.01;
  CHECK(sample_token(logits, 5, p, gen) == 1);
  SamplingOptions any;
  std::vector<int> counts(5, 0);
  for (int i = 0; i < 4000; ++i) ++counts[sample_token(logits, 5, any, gen)];
  CHECK(counts[1] > counts[3]);
  CHECK(counts[3] > counts[0]);
  CHECK(counts[2] > 0);

  Transformer m(small(FfnKind::lory, FirstSegment::self_stopgrad));
  SamplingOptions o;
  o.max_new_tokens = 10;
  o.seed = 5;
  auto first = generate(m, {3, 1, 4}, o), second = generate(m, {3, 1, 4}, o);
  CHECK(first == second);
  CHECK(first.size() == 10);
  CHECK_THROWS_AS(generate(m, {3, 99}, o), Error);
}

TEST_CASE("sampling options out of range are refused, naming the value", "[models][generate]") {
  Transformer m(small(FfnKind::dense, FirstSegment::uniform));
  auto with = [](void (*set)(SamplingOptions&)) {
    SamplingOptions o;
    set(o);
    return o;
  };
  CHECK_THROWS_WITH(generate(m, {3}, with([](SamplingOptions& o) { o.temperature = -1; })),
                    HasSubstr("temperature is -1; expected a finite number >= 0"));
  CHECK_THROWS_WITH(generate(m, {3}, with([](SamplingOptions& o) { o.top_p = 0; })),
                    HasSubstr("top_p is 0; expected a probability in (0, 1]"));
  CHECK_THROWS_WITH(generate(m, {3}, with([](SamplingOptions& o) { o.top_p = 1.5; })),
                    HasSubstr("top_p is 1.5"));
  CHECK_THROWS_WITH(generate(m, {3}, with([](SamplingOptions& o) { o.top_k = -1; })),
                    HasSubstr("top_k is -1"));
  CHECK_THROWS_WITH(generate(m, {3}, with([](SamplingOptions& o) { o.max_new_tokens = -1; })),
                    HasSubstr("max_new_tokens is -1"));
  CHECK_THROWS_WITH(generate(m, {3}, with([](SamplingOptions& o) { o.stop_token = -2; })),
                    HasSubstr("stop_token is -2"));
  const float logits[3] = {0.0f, 1.0f, 2.0f};
  Generator gen(1);
  CHECK_THROWS_WITH(
      sample_token(logits, 3, with([](SamplingOptions& o) { o.temperature = NAN; }), gen),
      HasSubstr("temperature is nan"));
  CHECK(generate(m, {3}, with([](SamplingOptions& o) { o.max_new_tokens = 0; })).empty());
}
