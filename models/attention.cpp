// Attention: q, k, v projections, RoPE, fused causal attention over (B,H,L,Dh), output projection.
#include "models/attention.h"

#include "ops/ops.h"

namespace lory {

void Attention::init(const ModelConfig& c, Generator& gen, double out_std) {
  const int64_t D = c.d_model;
  wq = Tensor::randn({D, D}, gen, c.init_std).set_requires_grad();
  wk = Tensor::randn({D, D}, gen, c.init_std).set_requires_grad();
  wv = Tensor::randn({D, D}, gen, c.init_std).set_requires_grad();
  wo = Tensor::randn({D, D}, gen, out_std).set_requires_grad();
  n_heads = c.n_heads;
  rope_theta = c.rope_theta;
}

void Attention::collect(const std::string& prefix, NamedParams& out) const {
  out.push_back({prefix + "wq", wq});
  out.push_back({prefix + "wk", wk});
  out.push_back({prefix + "wv", wv});
  out.push_back({prefix + "wo", wo});
}

Tensor Attention::forward(const Tensor& x, KVCache* cache) const {
  const int64_t B = x.size(0), L = x.size(1), D = x.size(2), H = n_heads, Dh = D / H;
  const int64_t past = cache ? cache->length() : 0;
  // (B,L,D) -> (B,L,H,Dh) -> (B,H,L,Dh)
  // Weights compute in the activations' dtype (mixed precision: bf16 copies of fp32 weights).
  auto heads = [&](const Tensor& w) {
    return ops::permute(ops::reshape(ops::linear(x, ops::cast(w, x.dtype())), Shape{B, L, H, Dh}),
                        {0, 2, 1, 3});
  };
  Tensor q = ops::rope(heads(wq), past, rope_theta);
  Tensor k = ops::rope(heads(wk), past, rope_theta);
  Tensor v = heads(wv);
  if (cache) {
    if (past > 0) {
      k = ops::concat({cache->k, k}, 2);
      v = ops::concat({cache->v, v}, 2);
    }
    cache->k = k.detach();
    cache->v = v.detach();
  }
  Tensor o = ops::causal_attention(q, k, v);  // (B,H,L,Dh)
  return ops::linear(ops::reshape(ops::permute(o, {0, 2, 1, 3}), Shape{B, L, D}),
                     ops::cast(wo, x.dtype()));
}

}  // namespace lory
