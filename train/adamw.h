// AdamW (Loshchilov & Hutter) with decoupled weight decay, and global-norm gradient clipping.
// Optimizer state (step count, first and second moments) is kept in fp32 per parameter.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lory {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
  // Parameters whose name matches none of these patterns decay; by default norms and embeddings
  // do not ("norm" matches attn_norm/ffn_norm/norm, "tok_emb" the embedding).
  std::vector<std::string> no_decay = {"norm", "tok_emb"};

  // Throws, naming the value, unless 0 <= beta1, beta2 < 1, eps > 0 and weight_decay >= 0;
  // `where` starts the message ("AdamW: ", "training config: optimizer.").
  void check(const std::string& where) const;
};

class AdamW {
 public:
  AdamW(NamedParams params, AdamWOptions options);

  // One update of every parameter from its gradient (parameters without a gradient are skipped).
  void step(double lr);
  void zero_grad();
  int64_t steps() const { return steps_; }
  const AdamWOptions& options() const { return options_; }

  // State as named tensors: "<param>.exp_avg", "<param>.exp_avg_sq" (for checkpoints).
  NamedParams state() const;
  void load_state(const NamedParams& state, int64_t steps);
  void set_steps(int64_t steps) { steps_ = steps; }
  // The moments of one parameter (upcycling copies a dense FFN's moments into every expert).
  Tensor& exp_avg(const std::string& name);
  Tensor& exp_avg_sq(const std::string& name);
  const NamedParams& params() const { return params_; }

 private:
  size_t index_of(const std::string& name) const;
  NamedParams params_;
  std::vector<Tensor> m_, v_;
  std::vector<bool> decays_;
  AdamWOptions options_;
  int64_t steps_ = 0;
};

// The global L2 norm of all gradients; when it exceeds max_norm (> 0) every gradient is scaled
// by max_norm / norm. Deterministic: per-tensor sums of fixed chunks, added in a fixed order.
double clip_grad_norm(const NamedParams& params, double max_norm);

}  // namespace lory
