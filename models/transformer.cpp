// Transformer: construction and initialisation, forward, loss, parameters, upcycling.
#include "models/transformer.h"

#include <cmath>

#include "models/lory_moe.h"
#include "ops/ops.h"

namespace lory {

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16})
    if (name == precision_name(p)) return p;
  LORY_FAIL("precision '", name, "' is unknown; expected 'fp32', 'tf32' or 'bf16'");
}

Transformer::Transformer(const ModelConfig& config, DType dtype) : config_(config) {
  config_.validate();
  const ModelConfig& c = config_;
  Generator gen(c.seed);
  // GPT-2: projections into the residual stream get std / sqrt(2·layers).
  const double out_std = c.init_std / std::sqrt(2.0 * static_cast<double>(c.n_layers));
  tok_emb = Tensor::randn({c.vocab, c.d_model}, gen, c.init_std).set_requires_grad();
  layers.resize(c.n_layers);
  for (Block& b : layers) {
    b.attn_norm = Tensor::ones({c.d_model}).set_requires_grad();
    b.attn.init(c, gen, out_std);
    b.ffn_norm = Tensor::ones({c.d_model}).set_requires_grad();
    b.ffn = make_ffn(c, gen, out_std);
  }
  norm = Tensor::ones({c.d_model}).set_requires_grad();
  lm_head = Tensor::randn({c.d_model, c.vocab}, gen, c.init_std).set_requires_grad();
  if (dtype != DType::f32)
    for (auto& [name, p] : parameters()) Tensor(p).set_data(p.to(dtype));
}

void Transformer::to(Device target) {
  for (auto& [name, p] : parameters()) Tensor(p).set_data(p.detach().to(target));
}

void Transformer::set_precision(Precision p) {
  LORY_CHECK(p != Precision::bf16 || (device() == Device::cuda && dtype() == DType::f32),
             "Transformer: precision 'bf16' needs an f32 model on the GPU (the CPU has no bf16 "
             "kernels); this model is ", dtype_name(dtype()), " on ", device_name(device()),
             ". Use precision 'fp32' on the CPU");
  precision_ = p;
}

Tensor Transformer::forward(const Tensor& ids_in, DecodeState* state) {
  const Tensor ids = ids_in.defined() ? ids_in.to(device()) : ids_in;
  check_dtype(ids, DType::i32, "Transformer::forward", "ids");
  check_rank(ids, 2, "Transformer::forward", "ids");
  const int64_t past = state ? state->position : 0;
  LORY_CHECK(past + ids.size(1) <= config_.max_seq, "Transformer::forward: ", past + ids.size(1),
             " positions exceed max_seq ", config_.max_seq);
  // Activations in the compute dtype: every weight is cast to it where used (a no-op in fp32).
  const DType dt = compute_dtype();
  Tensor x = ops::cast(ops::embedding(ids, tok_emb), dt);  // (B,L,D)
  for (size_t i = 0; i < layers.size(); ++i) {
    Block& b = layers[i];
    KVCache* kv = state ? &state->kv[i] : nullptr;
    FfnDecodeState* fs = state ? &state->ffn[i] : nullptr;
    x = ops::add(x, b.attn.forward(ops::rmsnorm(x, ops::cast(b.attn_norm, dt), config_.norm_eps), kv));
    x = ops::add(x, b.ffn->forward(ops::rmsnorm(x, ops::cast(b.ffn_norm, dt), config_.norm_eps), fs));
  }
  if (state) state->position += ids.size(1);
  return ops::linear(ops::rmsnorm(x, ops::cast(norm, dt), config_.norm_eps),
                     ops::cast(lm_head, dt));  // (B,L,V)
}

LossParts Transformer::loss(const Tensor& ids, const Tensor& targets, int64_t skip) {
  check_dtype(targets, DType::i32, "Transformer::loss", "targets");
  LORY_CHECK(targets.shape() == ids.shape(), "Transformer::loss: targets have shape ",
             targets.shape().str(), " but ids have ", ids.shape().str(), "; expected equal");
  const int64_t B = ids.size(0), L = ids.size(1), V = config_.vocab;
  LORY_CHECK(skip >= 0 && skip < L, "Transformer::loss: skip ", skip, " must be in 0..", L - 1);
  Tensor logits = ops::cast(forward(ids), dtype());  // the loss in the master dtype (fp32)
  Tensor scored = targets;
  if (skip > 0) {  // ignore the first `skip` positions of every sequence
    scored = targets.to(Device::cpu).clone();
    int32_t* t = scored.data<int32_t>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < skip; ++l) t[b * L + l] = -100;
  }
  scored = scored.to(device());
  LossParts parts;
  parts.ce = ops::cross_entropy(ops::reshape(logits, Shape{B * L, V}), scored.view({B * L}), -100);
  parts.total = parts.ce;
  for (const Block& b : layers) {
    Tensor aux = b.ffn->aux_loss();
    if (!aux.defined()) continue;
    parts.aux = parts.aux.defined() ? ops::add(parts.aux, aux) : aux;
  }
  if (parts.aux.defined()) parts.total = ops::add(parts.ce, parts.aux);
  return parts;
}

NamedParams Transformer::parameters() const {
  NamedParams out{{"tok_emb", tok_emb}};
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    out.push_back({p + "attn_norm", layers[i].attn_norm});
    layers[i].attn.collect(p + "attn.", out);
    out.push_back({p + "ffn_norm", layers[i].ffn_norm});
    layers[i].ffn->collect(p + "ffn.", out);
  }
  out.push_back({"norm", norm});
  out.push_back({"lm_head", lm_head});
  return out;
}

int64_t Transformer::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, t] : parameters()) n += t.numel();
  return n;
}

int64_t Transformer::active_parameter_count() const {
  const ModelConfig& c = config_;
  const int64_t expert = 3 * c.d_model * c.ffn_width();
  const int64_t router = c.is_moe() ? c.d_model * c.n_experts : 0;
  const int64_t per_token_experts = c.ffn == FfnKind::lory ? 1 : c.ffn == FfnKind::topk ? c.top_k : 1;
  const int64_t all_experts = c.is_moe() ? c.n_experts : 1;
  return parameter_count() - c.n_layers * (all_experts * expert + router) +
         c.n_layers * (per_token_experts * expert + router);
}

std::vector<Tensor> Transformer::routing_weights() const {
  std::vector<Tensor> out;
  for (const Block& b : layers)
    if (auto* lory = dynamic_cast<const LoryMoE*>(b.ffn.get())) out.push_back(lory->last_routing);
  return out;
}

DecodeState Transformer::new_decode_state() const {
  DecodeState s;
  s.kv.resize(layers.size());
  s.ffn.resize(layers.size());
  return s;
}

void Transformer::set_prompt_only_routing(bool on) {
  for (Block& b : layers)
    if (auto* lory = dynamic_cast<LoryMoE*>(b.ffn.get())) lory->prompt_only_routing = on;
}

std::vector<std::string> copy_parameters(const Transformer& from, Transformer& to,
                                         const std::function<bool(const std::string&)>& include) {
  NamedParams src = from.parameters();
  std::vector<std::string> copied;
  for (auto& [name, dst] : to.parameters())
    for (const auto& [sname, s] : src)
      if (sname == name && (!include || include(name))) {
        LORY_CHECK(s.shape() == dst.shape(), "copy_parameters: '", name, "' has shape ",
                   s.shape().str(), " in the source but ", dst.shape().str(), " in the target");
        Tensor d = dst;
        d.copy_(s);
        copied.push_back(name);
      }
  return copied;
}

Transformer upcycle(const Transformer& dense, const ModelConfig& lory_config) {
  const ModelConfig& dc = dense.config();
  LORY_CHECK(dc.ffn == FfnKind::dense, "upcycle: the source model has ffn '",
             ffn_kind_name(dc.ffn), "'; expected a dense model");
  LORY_CHECK(lory_config.ffn == FfnKind::lory, "upcycle: the target config has ffn '",
             ffn_kind_name(lory_config.ffn), "'; expected 'lory'");
  LORY_CHECK(dc.d_model == lory_config.d_model && dc.ffn_width() == lory_config.ffn_width() &&
                 dc.n_layers == lory_config.n_layers && dc.vocab == lory_config.vocab &&
                 dc.n_heads == lory_config.n_heads,
             "upcycle: the dense and Lory configs differ in shape (vocab, d_model, n_layers, "
             "n_heads or d_ff); expected the parameter-matched dense model");
  Transformer lory(lory_config, dense.dtype());
  copy_parameters(dense, lory, [](const std::string& name) {  // all but the FFNs
    return name.find(".ffn.") == std::string::npos;
  });
  const int64_t E = lory_config.n_experts;
  for (size_t i = 0; i < lory.layers.size(); ++i) {
    auto* d = dynamic_cast<const DenseFfn*>(dense.layers[i].ffn.get());
    auto* m = dynamic_cast<LoryMoE*>(lory.layers[i].ffn.get());
    m->w1.copy_(replicate_experts(d->w1, E));
    m->w3.copy_(replicate_experts(d->w3, E));
    m->w2.copy_(replicate_experts(d->w2, E));
  }
  return lory;
}

}  // namespace lory
