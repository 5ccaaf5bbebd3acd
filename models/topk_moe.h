// Token-level top-k MoE (the baseline for the token-vs-segment comparison): a softmax router
// picks k experts per token, their outputs are mixed with the renormalised router weights; a
// Switch load-balancing loss and a router z-loss are added to the training loss.
#pragma once
#include "models/ffn.h"

namespace lory {

class TopKMoE : public FeedForward {
 public:
  TopKMoE(const ModelConfig& c, Generator& gen, double out_std);
  Tensor forward(const Tensor& h, FfnDecodeState* state = nullptr) override;
  void collect(const std::string& prefix, NamedParams& out) const override;
  Tensor aux_loss() const override { return weighted_aux_; }

  Tensor router;      // (D,E)
  Tensor w1, w3, w2;  // (E,D,F), (E,D,F), (E,F,D)
  int64_t top_k;
  double aux_weight, z_weight;
  // Of the last forward pass, for reporting: unweighted losses and the fraction of token
  // assignments each expert received (E).
  double last_balance_loss = 0, last_z_loss = 0;
  std::vector<double> last_load;

 private:
  Tensor weighted_aux_;
};

}  // namespace lory
