// The FFN of a transformer block: an interface with three kinds behind it — the dense SwiGLU
// FFN, the Lory MoE layer (models/lory_moe.h) and the token-level top-k MoE (models/topk_moe.h).
#pragma once
#include <memory>

#include "models/attention.h"

namespace lory {

// Per-layer state an FFN keeps across calls while decoding (Lory's routing decision).
struct FfnDecodeState {
  int64_t position = 0;   // tokens processed so far
  Tensor route;           // (B,E) weights in force for the current segment / the whole text
  Tensor next_route;      // (B,E) per-segment mode: weights for the next segment
  Tensor segment_sum;     // (B,D) per-segment mode: sum of this segment's inputs so far
};

class FeedForward {
 public:
  virtual ~FeedForward() = default;
  // h (B,L,D), the block's normalised input -> (B,L,D) in h's dtype: the weights are cast to it
  // (bf16 mixed precision), routers compute in their own dtype (fp32). Training-style routing
  // when state is null; decoding (tokens following state->position) otherwise.
  virtual Tensor forward(const Tensor& h, FfnDecodeState* state = nullptr) = 0;
  virtual void collect(const std::string& prefix, NamedParams& out) const = 0;
  // The auxiliary loss of the last forward pass, already weighted (undefined when none).
  virtual Tensor aux_loss() const { return Tensor(); }
};

// SwiGLU: y = (silu(x·W1) ⊙ (x·W3))·W2, W1, W3 (D,F), W2 (F,D).
class DenseFfn : public FeedForward {
 public:
  DenseFfn(const ModelConfig& c, Generator& gen, double out_std);
  Tensor forward(const Tensor& h, FfnDecodeState* state = nullptr) override;
  void collect(const std::string& prefix, NamedParams& out) const override;
  Tensor w1, w3, w2;
};

std::unique_ptr<FeedForward> make_ffn(const ModelConfig& c, Generator& gen, double out_std);

}  // namespace lory
