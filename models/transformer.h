// The decoder-only transformer (LLaMA style, LORY.md §1): token embedding, pre-norm blocks
// x += Attn(RMSNorm(x)); x += FFN(RMSNorm(x)), final RMSNorm, untied LM head. The FFN of every
// block is dense, Lory MoE or token-level top-k MoE, as the config says.
//
//   Transformer model(ModelConfig::from_file("model.json"));
//   Tensor loss = model.loss(inputs, targets).total;   // inputs, targets i32 (B,L)
//   loss.backward();
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "models/attention.h"
#include "models/ffn.h"

namespace lory {

struct Block {
  Tensor attn_norm, ffn_norm;  // (D)
  Attention attn;
  std::unique_ptr<FeedForward> ffn;
};

struct LossParts {
  Tensor total;        // ce + aux: what training differentiates
  Tensor ce;           // mean cross-entropy over the scored positions
  Tensor aux;          // sum of the layers' weighted auxiliary losses (top-k MoE), else undefined
};

// The state of incremental decoding: the KV caches and each layer's routing state.
struct DecodeState {
  std::vector<KVCache> kv;
  std::vector<FfnDecodeState> ffn;
  int64_t position = 0;
};

class Transformer {
 public:
  // Parameters are initialised from config.seed (the same values whatever the dtype); f64
  // models exist for gradient checks.
  explicit Transformer(const ModelConfig& config, DType dtype = DType::f32);

  const ModelConfig& config() const { return config_; }
  DType dtype() const { return tok_emb.dtype(); }
  // ids i32 (B,L) -> logits (B,L,V). With a decode state, ids are the tokens that follow the
  // ones already seen (the state is updated).
  Tensor forward(const Tensor& ids, DecodeState* state = nullptr);
  // Mean cross-entropy of logits against targets (B,L) at positions >= skip (positions before
  // are not scored: perplexity over segments 2..N uses skip = T), plus auxiliary losses.
  LossParts loss(const Tensor& ids, const Tensor& targets, int64_t skip = 0);

  // Every parameter, named ("tok_emb", "layers.3.ffn.w1", ...), in a fixed order.
  NamedParams parameters() const;
  int64_t parameter_count() const;
  // Parameters used per token: Lory merges its experts into one FFN, top-k uses k experts.
  int64_t active_parameter_count() const;
  // The last forward pass's routing weights of every Lory layer, (B,N,E) each.
  std::vector<Tensor> routing_weights() const;

  DecodeState new_decode_state() const;
  // Lory layers: decode with prompt-only routing (true, default) or per-segment routing.
  void set_prompt_only_routing(bool on);

  Tensor tok_emb;  // (V,D)
  std::vector<Block> layers;
  Tensor norm;     // (D)
  Tensor lm_head;  // (D,V)

 private:
  ModelConfig config_;
};

// Copies the values of `from` into the parameters of `to` with the same names (shapes must
// match), for the names `include` accepts; returns the names copied.
std::vector<std::string> copy_parameters(
    const Transformer& from, Transformer& to,
    const std::function<bool(const std::string&)>& include = nullptr);

// Upcycling (LORY.md §3): a Lory model whose experts are all copies of the dense model's FFN;
// everything else is copied; routers keep their fresh initialisation.
Transformer upcycle(const Transformer& dense, const ModelConfig& lory_config);

}  // namespace lory
