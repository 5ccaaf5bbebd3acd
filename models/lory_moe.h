// The Lory MoE layer (LORY.md §2): E SwiGLU experts merged in parameter space per segment,
// routed causally — segment k uses the router weights computed from segment k-1.
#pragma once
#include "models/ffn.h"

namespace lory {

class LoryMoE : public FeedForward {
 public:
  LoryMoE(const ModelConfig& c, Generator& gen, double out_std);

  // Training and evaluation: causal segment routing over h (B,L,D); a partial last segment is
  // routed from the previous one like any other.
  // Decoding (state given): prompt-only routing (one decision from the prompt's mean, kept for
  // every later token) or per-segment routing, as set by `prompt_only_routing`.
  Tensor forward(const Tensor& h, FfnDecodeState* state = nullptr) override;
  void collect(const std::string& prefix, NamedParams& out) const override;

  // e = softmax(hbar·R) over the experts: hbar (...,D) -> (...,E). Router in fp32 (LORY.md §2).
  Tensor router_weights(const Tensor& hbar) const;

  Tensor router;      // (D,E), N(0, router_std²), no bias
  Tensor w1, w3, w2;  // (E,D,F), (E,D,F), (E,F,D): expert i is (w1[i], w3[i], w2[i])
  int64_t segment_len;
  FirstSegment first_segment;
  bool prompt_only_routing = true;  // decoding mode (the paper's default)
  Tensor last_routing;               // (B,N,E) the weights ê used by the last forward (detached)

 private:
  Tensor forward_decode(const Tensor& h, FfnDecodeState& st);
};

// E copies of a dense FFN matrix: (D,F) -> (E,D,F). Upcycling after the dense warm-up
// (LORY.md §3) applies it to W1, W3, W2 and to their Adam moments.
Tensor replicate_experts(const Tensor& w, int64_t E);

}  // namespace lory
