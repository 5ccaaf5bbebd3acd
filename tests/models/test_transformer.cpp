// The whole model: config checking, parameter counts, gradients of the loss with respect to
// every parameter, causality, upcycling, the top-k baseline.
#include <cstring>

#include <nlohmann/json.hpp>

#include "catch_compat.h"
#include "core/gradcheck.h"
#include "models/lory_moe.h"
#include "models/topk_moe.h"
#include "models/transformer.h"
#include "ops/ops.h"

using namespace lory;

namespace {

ModelConfig tiny(FfnKind ffn, FirstSegment first = FirstSegment::self_stopgrad) {
  ModelConfig c;
  c.vocab = 7;
  c.d_model = 4;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_ff = 6;
  c.max_seq = 16;
  c.ffn = ffn;
  c.n_experts = 3;
  c.segment_len = 2;
  c.first_segment = first;
  c.top_k = 2;
  c.init_std = 0.5;
  c.router_std = 0.5;
  return c;
}

Tensor ids_of(const std::vector<int32_t>& v, int64_t B) {
  return Tensor::from_vector(v, {B, static_cast<int64_t>(v.size()) / B});
}

}  // namespace

TEST_CASE("model configs reject unknown keys, wrong types and impossible values", "[models]") {
  using nlohmann::json;
  CHECK_THROWS_WITH(ModelConfig::from_json(json{{"d_modle", 64}}),
                    HasSubstr("unknown key 'd_modle'; did you mean 'd_model'?"));
  CHECK_THROWS_WITH(ModelConfig::from_json(json{{"d_model", "64"}}),
                    HasSubstr("key 'd_model' is \"64\"; expected an integer"));
  CHECK_THROWS_WITH(ModelConfig::from_json(json{{"d_model", 30}, {"n_heads", 4}}),
                    HasSubstr("not divisible by 'n_heads'"));
  CHECK_THROWS_WITH(ModelConfig::from_json(json{{"n_experts", 0}}),
                    HasSubstr("'n_experts' is 0"));
  CHECK_THROWS_WITH(ModelConfig::from_json(json{{"rope_theta", 0}}),
                    HasSubstr("'rope_theta' is 0; expected > 0"));
  CHECK_THROWS_WITH(ModelConfig::from_json(json{{"ffn", "moe"}}),
                    HasSubstr("expected one of \"dense\", \"lory\", \"topk\""));
  CHECK_THROWS_WITH(ModelConfig::from_json(json{{"ffn", "topk"}, {"top_k", 9}}),
                    HasSubstr("'top_k' is 9"));
  ModelConfig c = ModelConfig::from_json(json{{"segment_len", 64}});
  CHECK_THROWS_WITH(c.validate_sequence_length(100), HasSubstr("not a multiple"));
  CHECK_NOTHROW(c.validate_sequence_length(128));
  // The round trip through JSON keeps every value.
  ModelConfig d = ModelConfig::from_json(tiny(FfnKind::topk).to_json());
  CHECK(d.to_json() == tiny(FfnKind::topk).to_json());
  CHECK(ModelConfig::from_json(json{{"d_model", 256}}).ffn_width() == 704);
  CHECK(ModelConfig::from_json(json{{"d_model", 1024}}).ffn_width() == 2752);
}

TEST_CASE("parameter counts: Lory's active parameters equal the dense model's", "[models]") {
  Transformer dense(tiny(FfnKind::dense)), lory(tiny(FfnKind::lory)), topk(tiny(FfnKind::topk));
  const int64_t expert = 3 * 4 * 6, router = 4 * 3;
  CHECK(lory.parameter_count() == dense.parameter_count() + 2 * (2 * expert + router));
  CHECK(lory.active_parameter_count() == dense.parameter_count() + 2 * router);
  CHECK(topk.active_parameter_count() == dense.parameter_count() + 2 * (expert + router));
  CHECK(dense.active_parameter_count() == dense.parameter_count());
  auto names = lory.parameters();
  CHECK(names.front().first == "tok_emb");
  CHECK(names[1].first == "layers.0.attn_norm");
  CHECK(names.back().first == "lm_head");
}

TEST_CASE("the loss of a tiny model passes gradcheck for every parameter", "[models][grad]") {
  for (FfnKind ffn : {FfnKind::dense, FfnKind::lory}) {
    Transformer m(tiny(ffn, FirstSegment::uniform), DType::f64);  // no stop-gradient
    Tensor ids = ids_of({1, 3, 0, 6, 2, 2, 5, 4}, 2), targets = ids_of({3, 0, 6, 2, 2, 5, 4, 1}, 2);
    std::vector<Tensor> params;
    for (auto& [name, p] : m.parameters()) params.push_back(p);
    auto r = gradcheck([&](const std::vector<Tensor>&) { return m.loss(ids, targets).total; }, params);
    INFO(ffn_kind_name(ffn) << "\n" << r.report());
    CHECK(r.ok);
    CHECK(r.inputs.size() == params.size());
  }
}

TEST_CASE("the top-k MoE layer passes gradcheck away from ties and reports its losses",
          "[models][grad]") {
  ModelConfig c = tiny(FfnKind::topk);
  Generator gen(2);
  TopKMoE layer(c, gen, c.init_std);
  for (Tensor* t : {&layer.router, &layer.w1, &layer.w3, &layer.w2}) t->set_data(t->to(DType::f64));
  Tensor h = Tensor::randn({2, 5, c.d_model}, gen, 1.0, DType::f64).set_requires_grad();
  auto r = gradcheck([&](const std::vector<Tensor>&) { return layer.forward(h); },
                     {h, layer.router, layer.w1, layer.w3, layer.w2});
  INFO(r.report());
  CHECK(r.ok);
  double load = 0;
  for (double f : layer.last_load) load += f;
  CHECK(load == Approx(1.0));
  CHECK(layer.last_balance_loss >= 1.0 - 1e-9);  // E·Σ f·P >= 1 with equality when balanced
  CHECK(layer.last_z_loss > 0);
  auto ra = gradcheck([&](const std::vector<Tensor>&) { layer.forward(h); return layer.aux_loss(); },
                      {layer.router});
  INFO(ra.report());
  CHECK(ra.ok);
}

TEST_CASE("causality: later tokens never change earlier logits", "[models]") {
  struct Case { FfnKind ffn; FirstSegment first; int64_t from; };
  // self_stopgrad lets segment 1 see its own mean: only positions >= T are strictly causal.
  for (Case k : {Case{FfnKind::dense, FirstSegment::uniform, 0},
                 Case{FfnKind::lory, FirstSegment::uniform, 0},
                 Case{FfnKind::lory, FirstSegment::self_stopgrad, 1},
                 Case{FfnKind::topk, FirstSegment::uniform, 0}}) {
    Transformer m(tiny(k.ffn, k.first));
    std::vector<int32_t> a{1, 3, 0, 6, 2, 2, 5, 4};
    Tensor base = m.forward(ids_of(a, 1));
    for (int64_t t = k.from; t + 1 < 8; ++t) {
      std::vector<int32_t> b = a;
      for (int64_t s = t + 1; s < 8; ++s) b[s] = (b[s] + 3) % 7;
      Tensor other = m.forward(ids_of(b, 1));
      INFO(ffn_kind_name(k.ffn) << " " << first_segment_name(k.first) << " changed after " << t);
      for (int64_t p = 0; p <= t; ++p)
        for (int64_t v = 0; v < 7; ++v) REQUIRE(other.at(p * 7 + v) == base.at(p * 7 + v));
    }
  }
}

TEST_CASE("an upcycled Lory model computes exactly what its dense model computes", "[models]") {
  Transformer dense(tiny(FfnKind::dense));
  ModelConfig lc = tiny(FfnKind::lory);
  lc.seed = 99;
  Transformer lory = upcycle(dense, lc);
  Tensor ids = ids_of({1, 3, 0, 6, 2, 2, 5, 4}, 2);
  auto a = dense.forward(ids).to_vector<float>(), b = lory.forward(ids).to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) CHECK(b[i] == Approx(a[i]).margin(1e-5));
  CHECK_THROWS_AS(upcycle(lory, lc), Error);
}

TEST_CASE("loss skips the first positions when asked (perplexity over segments 2..N)", "[models]") {
  Transformer m(tiny(FfnKind::lory));
  Tensor ids = ids_of({1, 3, 0, 6, 2, 2, 5, 4}, 1), targets = ids_of({3, 0, 6, 2, 2, 5, 4, 1}, 1);
  double all = m.loss(ids, targets).ce.item(), later = m.loss(ids, targets, 2).ce.item();
  Tensor logp = ops::log_softmax(m.forward(ids));
  double manual = 0;
  for (int64_t p = 2; p < 8; ++p) manual -= logp.at(p * 7 + targets.at(p));
  CHECK(later == Approx(manual / 6).epsilon(1e-5));
  CHECK(all != later);
}

TEST_CASE("precision names, bf16 refused on the CPU, to(cpu) changes nothing", "[models]") {
  CHECK(parse_precision("tf32") == Precision::tf32);
  CHECK(std::string(precision_name(Precision::bf16)) == "bf16");
  CHECK_THROWS_WITH(parse_precision("fp16"), HasSubstr("expected 'fp32', 'tf32' or 'bf16'"));
  ModelConfig c;
  c.vocab = 50;
  c.d_model = 16;
  c.n_layers = 1;
  c.n_heads = 2;
  c.max_seq = 16;
  c.segment_len = 4;
  c.n_experts = 2;
  Transformer m(c);
  CHECK_THROWS_WITH(m.set_precision(Precision::bf16), HasSubstr("needs an f32 model on the GPU"));
  m.set_precision(Precision::tf32);  // nothing to do on the CPU
  CHECK(m.compute_dtype() == DType::f32);
  Tensor ids = Tensor::from_vector(std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8}, {1, 8});
  Tensor before = m.forward(ids);
  m.to(Device::cpu);
  CHECK(m.device() == Device::cpu);
  Tensor after = m.forward(ids);
  CHECK(std::memcmp(before.raw_data(), after.raw_data(), before.nbytes()) == 0);
}
