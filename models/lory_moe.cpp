// The Lory MoE layer, step by step as in LORY.md §2. Letters: B batch, L tokens, T segment
// length, N = ceil(L/T) segments, D width, F FFN width, E experts.
#include "models/lory_moe.h"

#include "ops/ops.h"

namespace lory {

LoryMoE::LoryMoE(const ModelConfig& c, Generator& gen, double out_std)
    : segment_len(c.segment_len), first_segment(c.first_segment) {
  const int64_t D = c.d_model, F = c.ffn_width(), E = c.n_experts;
  w1 = Tensor::randn({E, D, F}, gen, c.init_std).set_requires_grad();
  w3 = Tensor::randn({E, D, F}, gen, c.init_std).set_requires_grad();
  w2 = Tensor::randn({E, F, D}, gen, out_std).set_requires_grad();
  // Never zero: with a uniform router and identical (upcycled) experts every router gradient is
  // exactly zero and the symmetry would never break.
  router = Tensor::randn({D, E}, gen, c.router_std).set_requires_grad();
}

void LoryMoE::collect(const std::string& prefix, NamedParams& out) const {
  out.push_back({prefix + "router", router});
  out.push_back({prefix + "w1", w1});
  out.push_back({prefix + "w3", w3});
  out.push_back({prefix + "w2", w2});
}

Tensor LoryMoE::router_weights(const Tensor& hbar) const {
  return ops::softmax(ops::linear(ops::cast(hbar, router.dtype()), router));
}

Tensor LoryMoE::forward(const Tensor& h, FfnDecodeState* state) {
  if (state) return forward_decode(h, *state);
  const int64_t B = h.size(0), E = router.size(1), T = segment_len;
  const DType dt = h.dtype();  // compute dtype of the experts; the router stays in its own

  // 1. Segment means: hbar[b,k] = (1/T) Σ_{t in segment k} h[b,t]                  (B,N,D)
  Tensor hbar = ops::segment_mean(h, T);
  const int64_t N = hbar.size(1);

  // 2. Router weights: e[b,k] = softmax(R · hbar[b,k]) over the experts           (B,N,E)
  Tensor e = router_weights(hbar);

  // 3. Causal shift: ê[b,k] = e[b,k-1] for k >= 2. Segment 1 has no predecessor: it routes
  //    itself with no gradient through that path (the paper), or uniformly (no leak at all).
  Tensor first = first_segment == FirstSegment::uniform
                     ? Tensor::full({B, 1, E}, 1.0 / static_cast<double>(E), e.dtype(), h.device())
                     : ops::narrow(e, 1, 0, 1).detach();
  Tensor e_hat = N == 1 ? first : ops::concat({first, ops::narrow(e, 1, 0, N - 1)}, 1);
  last_routing = e_hat.detach();

  // 4-5. Merge the experts per segment (Wbar = Σ_i ê_i W_i) and run each segment's SwiGLU
  //      with its merged weights; the merged weights are recomputed in backward, never kept.
  return ops::lory_ffn(h, ops::cast(e_hat, dt), ops::cast(w1, dt), ops::cast(w3, dt),
                       ops::cast(w2, dt), T);
}

// Decoding. Prompt-only routing: the first call (the prompt) fixes one decision per layer from
// the mean of the prompt's hidden states; it serves the prompt and every generated token.
// Per-segment routing: as in training, segment k uses the weights of segment k-1's mean; segment
// 1 uses uniform weights (first_segment = uniform) or the mean of the prompt's tokens that fall
// in segment 1 (self_stopgrad; identical to training when the prompt covers segment 1).
Tensor LoryMoE::forward_decode(const Tensor& h, FfnDecodeState& st) {
  const int64_t B = h.size(0), L = h.size(1), D = h.size(2), E = router.size(1);
  const DType dt = h.dtype();
  auto ffn = [&](const Tensor& x, const Tensor& route, int64_t T) {  // route (B,1,E)
    return ops::lory_ffn(x, ops::cast(route, dt), ops::cast(w1, dt), ops::cast(w3, dt),
                         ops::cast(w2, dt), T);
  };
  if (prompt_only_routing) {
    if (!st.route.defined()) st.route = router_weights(ops::mean(h, 1)).detach();  // (B,E)
    st.position += L;
    last_routing = st.route.view({B, 1, E});
    return ffn(h, last_routing, L);
  }
  const int64_t T = segment_len;
  std::vector<Tensor> pieces;
  for (int64_t t = 0; t < L;) {
    const int64_t in_segment = st.position % T, n = std::min(L - t, T - in_segment);
    Tensor piece = ops::narrow(h, 1, t, n);
    Tensor piece_sum = ops::sum(piece, 1);  // (B,D)
    if (in_segment == 0) {
      st.route = st.next_route;
      st.segment_sum = Tensor::zeros({B, D}, h.dtype(), h.device());
    }
    st.segment_sum = ops::add(st.segment_sum, piece_sum).detach();
    if (!st.route.defined())  // segment 1
      st.route = first_segment == FirstSegment::uniform
                     ? Tensor::full({B, E}, 1.0 / static_cast<double>(E), router.dtype(), h.device())
                     : router_weights(ops::mul_scalar(piece_sum, 1.0 / n)).detach();
    pieces.push_back(ffn(piece, st.route.view({B, 1, E}), n));
    st.position += n;
    t += n;
    if (st.position % T == 0)
      st.next_route = router_weights(ops::mul_scalar(st.segment_sum, 1.0 / T)).detach();
  }
  last_routing = st.route.view({B, 1, E});
  return pieces.size() == 1 ? pieces[0] : ops::concat(pieces, 1);
}

Tensor replicate_experts(const Tensor& w, int64_t E) {
  LORY_CHECK(w.rank() == 2, "replicate_experts: expected a dense FFN matrix (rank 2), got ",
             w.str());
  NoGradGuard no_grad;
  std::vector<Tensor> copies(E, w.detach().view({1, w.size(0), w.size(1)}));
  return ops::concat(copies, 0);
}

}  // namespace lory
