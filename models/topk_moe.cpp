// TopKMoE: route each token to its k best experts, run every expert on its own tokens only
// (gather -> SwiGLU -> weight -> scatter-add), plus the balance and z losses.
#include "models/topk_moe.h"

#include "ops/ops.h"

namespace lory {

TopKMoE::TopKMoE(const ModelConfig& c, Generator& gen, double out_std)
    : top_k(c.top_k), aux_weight(c.aux_loss_weight), z_weight(c.z_loss_weight) {
  const int64_t D = c.d_model, F = c.ffn_width(), E = c.n_experts;
  w1 = Tensor::randn({E, D, F}, gen, c.init_std).set_requires_grad();
  w3 = Tensor::randn({E, D, F}, gen, c.init_std).set_requires_grad();
  w2 = Tensor::randn({E, F, D}, gen, out_std).set_requires_grad();
  router = Tensor::randn({D, E}, gen, c.router_std).set_requires_grad();
}

void TopKMoE::collect(const std::string& prefix, NamedParams& out) const {
  out.push_back({prefix + "router", router});
  out.push_back({prefix + "w1", w1});
  out.push_back({prefix + "w3", w3});
  out.push_back({prefix + "w2", w2});
}

Tensor TopKMoE::forward(const Tensor& h, FfnDecodeState*) {
  const int64_t B = h.size(0), L = h.size(1), D = h.size(2), M = B * L;
  const int64_t E = router.size(1), K = top_k, F = w1.size(2);
  Tensor x = ops::reshape(h, Shape{M, D});

  // Router: probabilities over experts per token, the k best, and their renormalised weights
  // (a softmax over the chosen logits is p_i / Σ_chosen p_j).
  const DType dt = x.dtype();  // the experts compute in it; the router in its own (fp32)
  const Device dev = x.device();
  Tensor logits = ops::linear(ops::cast(x, router.dtype()), router);  // (M,E)
  Tensor probs = ops::softmax(logits);
  Tensor chosen = ops::topk_indices(probs, K);                              // (M,K) i32
  Tensor gate = ops::softmax(ops::take_along_last(logits, chosen));         // (M,K)
  Tensor gate_flat = ops::reshape(gate, Shape{M * K});

  // Dispatch: expert e gets the tokens m (and gate slots m·K+j) that chose it, in token order.
  std::vector<std::vector<int32_t>> rows(E), slots(E);
  const Tensor chosen_host = chosen.to(Device::cpu);  // (M,K) indices: a small host copy
  const int32_t* cp = chosen_host.data<int32_t>();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < K; ++j) {
      rows[cp[m * K + j]].push_back(static_cast<int32_t>(m));
      slots[cp[m * K + j]].push_back(static_cast<int32_t>(m * K + j));
    }
  const Tensor w1c = ops::cast(w1, dt), w3c = ops::cast(w3, dt), w2c = ops::cast(w2, dt);
  Tensor y;
  last_load.assign(E, 0.0);
  for (int64_t e = 0; e < E; ++e) {
    const int64_t n = static_cast<int64_t>(rows[e].size());
    last_load[e] = static_cast<double>(n) / static_cast<double>(M * K);
    if (n == 0) continue;
    Tensor idx = Tensor::from_vector(rows[e], {n}).to(dev);
    Tensor xe = ops::index_select_rows(x, idx);
    auto expert = [&](const Tensor& w, int64_t r, int64_t c) {
      return ops::reshape(ops::narrow(w, 0, e, 1), Shape{r, c});
    };
    Tensor ye = ops::linear(
        ops::swiglu(ops::linear(xe, expert(w1c, D, F)), ops::linear(xe, expert(w3c, D, F))),
        expert(w2c, F, D));
    Tensor ge = ops::index_select_rows(ops::reshape(gate_flat, Shape{M * K, 1}),
                                       Tensor::from_vector(slots[e], {n}).to(dev));
    Tensor contribution =
        ops::index_add_rows(ops::scale_rows(ye, ops::cast(ops::reshape(ge, Shape{n}), dt)), idx, M);
    y = y.defined() ? ops::add(y, contribution) : contribution;
  }

  // Switch balance loss: E · Σ_i f_i · P_i, f_i the fraction of assignments to expert i (a
  // constant), P_i the mean router probability of expert i. z-loss: mean logsumexp(logits)².
  Tensor f = Tensor::from_vector(last_load, {E}).to(probs.dtype()).to(dev);
  Tensor balance = ops::mul_scalar(ops::sum(ops::mul(f, ops::mean(probs, 0))), static_cast<double>(E));
  Tensor lse = ops::sub(ops::narrow(logits, 1, 0, 1), ops::narrow(ops::log_softmax(logits), 1, 0, 1));
  Tensor z = ops::mean(ops::square(lse));
  last_balance_loss = balance.item();
  last_z_loss = z.item();
  weighted_aux_ = ops::add(ops::mul_scalar(balance, aux_weight), ops::mul_scalar(z, z_weight));
  return ops::reshape(y, Shape{B, L, D});
}

}  // namespace lory
