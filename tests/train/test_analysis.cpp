// Routing statistics and the per-domain routing analysis.
#include <cmath>

#include "catch_compat.h"
#include "data/shards.h"
#include "train/evaluate.h"
#include "train/routing_analysis.h"
#include "train/routing_stats.h"

using namespace lory;

TEST_CASE("Jensen-Shannon divergence: 0 for equal distributions, ln 2 for disjoint ones", "[train]") {
  CHECK(js_divergence({{0.5, 0.5}, {0.5, 0.5}}) == Approx(0.0).margin(1e-15));
  CHECK(js_divergence({{1.0, 0.0}, {0.0, 1.0}}) == Approx(std::log(2.0)));
  CHECK(js_divergence({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}) == Approx(std::log(3.0)));
}

TEST_CASE("routing statistics of recorded weights", "[train]") {
  // Two segments over E = 4: one uniform, one concentrated on expert 2.
  Tensor w = Tensor::from_vector<float>({0.25f, 0.25f, 0.25f, 0.25f, 0.0f, 0.0f, 1.0f, 0.0f}, {1, 2, 4});
  RoutingStats s = routing_stats(w);
  CHECK(s.mean_weight[2] == Approx(0.625));
  CHECK(s.entropy == Approx(std::log(4.0) / 2));
  CHECK(s.activated == 1);  // only expert 2 ever exceeds 2/E = 0.5
}

namespace {

// A small Lory model (vocab 50, max_seq 16, T = 4) and a held-out shard of two domains that use
// different halves of the vocabulary, with evaluation options for it.
ModelConfig small_model() {
  ModelConfig c;
  c.vocab = 50;
  c.d_model = 16;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_ff = 32;
  c.max_seq = 16;
  c.n_experts = 4;
  c.segment_len = 4;
  c.router_std = 1.0;
  return c;
}

ShardData two_domains() {
  ShardData valid;
  valid.vocab_size = 50;
  valid.domains = {"alpha", "beta"};
  Generator gen(1);
  for (int d = 0; d < 4; ++d) {
    std::vector<int32_t> tokens(40);
    for (auto& t : tokens) t = static_cast<int32_t>(d % 2 == 0 ? gen.below(20) : 25 + gen.below(20));
    add_document(valid, tokens, d % 2);
  }
  return valid;
}

EvalOptions eval_options() {
  EvalOptions o;
  o.seq_len = 16;
  o.batch_size = 2;
  o.max_batches = 2;
  o.eot = 49;
  return o;
}

}  // namespace

TEST_CASE("routing analysis averages each domain's routing weights per layer", "[train]") {
  ModelConfig c = small_model();
  Transformer model(c);
  const ShardData valid = two_domains();
  const EvalOptions o = eval_options();
  RoutingAnalysis r = analyse_routing(model, valid, o);
  REQUIRE(r.layers.size() == 2);
  CHECK(r.domains == std::vector<std::string>{"alpha", "beta"});
  for (const auto& layer : r.layers) {
    for (const auto& [domain, w] : layer.weights) {
      double total = 0;
      for (double v : w) total += v;
      CHECK(total == Approx(1.0).epsilon(1e-5));
    }
    CHECK(layer.js_divergence >= 0);
  }
  CHECK(r.to_json()["layers"][1]["weights"]["beta"].size() == 4);
  c.ffn = FfnKind::dense;
  Transformer dense(c);
  CHECK_THROWS_WITH(analyse_routing(dense, valid, o), HasSubstr("needs a Lory model"));
}

TEST_CASE("evaluation options out of range are refused, naming the value", "[train]") {
  Transformer model(small_model());
  const ShardData valid = two_domains();
  EvalOptions o = eval_options();
  o.max_batches = 1;
  o.skip = 15;  // the last position only: allowed
  CHECK(evaluate(model, valid, o).at("alpha").tokens_after_T == 2);
  o.skip = 16;  // no position left: refused (it used to fall back to all positions, silently)
  CHECK_THROWS_WITH(evaluate(model, valid, o), HasSubstr("skip is 16; expected 0..15"));
  o.skip = 0;
  o.batch_size = 0;
  CHECK_THROWS_WITH(evaluate(model, valid, o), HasSubstr("batch_size 0"));
}
