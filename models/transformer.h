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

// Training precision (docs/training.md): fp32; tf32 (fp32 with TF32 tensor-core GEMMs on the
// GPU, core/precision.h — set by whoever runs the model); bf16 mixed precision (fp32 master
// weights cast to bf16 for the blocks and the LM head, bf16 activations, routers and the loss in
// fp32, fp32 gradients into the master weights through the cast's backward; GPU only).
enum class Precision { fp32, tf32, bf16 };
const char* precision_name(Precision p);
Precision parse_precision(const std::string& name);  // "fp32" | "tf32" | "bf16", else a clear error

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
  DType dtype() const { return tok_emb.dtype(); }      // of the (master) parameters
  Device device() const { return tok_emb.device(); }
  // Moves every parameter to `device` in place (set_data: handles held elsewhere follow);
  // gradients are dropped. Optimizers must be created after the move.
  void to(Device device);
  // bf16 needs the model on the GPU in f32; fp32 and tf32 change nothing here.
  void set_precision(Precision p);
  Precision precision() const { return precision_; }
  // The dtype activations compute in: bf16 under bf16 precision, else the parameters' dtype.
  DType compute_dtype() const { return precision_ == Precision::bf16 ? DType::bf16 : dtype(); }
  // ids i32 (B,L) (on any device: copied to the model's) -> logits (B,L,V) in compute_dtype().
  // With a decode state, ids are the tokens that follow the ones already seen (state updated).
  Tensor forward(const Tensor& ids, DecodeState* state = nullptr);
  // Mean cross-entropy of logits against targets (B,L) at positions >= skip (positions before
  // are not scored: perplexity over segments 2..N uses skip = T), plus auxiliary losses. The
  // logits are cast to the parameters' dtype first: the loss is fp32 under bf16 precision.
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
  Precision precision_ = Precision::fp32;
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
