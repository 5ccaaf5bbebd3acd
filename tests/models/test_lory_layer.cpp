// The Lory MoE layer, read beside LORY.md §2: it is compared with a naive reference that loops
// over sequences and segments, routes segment k by the mean of segment k-1, builds each merged
// FFN explicitly from the experts, and is differentiated by autograd through generic ops.
#include "catch_compat.h"
#include "core/gradcheck.h"
#include "models/lory_moe.h"
#include "ops/ops.h"

using namespace lory;

namespace {

ModelConfig layer_config(FirstSegment first) {
  ModelConfig c;
  c.vocab = 11;
  c.d_model = 6;
  c.d_ff = 10;
  c.n_heads = 2;
  c.n_layers = 1;
  c.n_experts = 3;
  c.segment_len = 4;
  c.first_segment = first;
  c.router_std = 0.5;  // large enough that routing matters in the test
  c.init_std = 0.4;
  return c;
}

void to_f64(LoryMoE& m) {
  for (Tensor* t : {&m.router, &m.w1, &m.w3, &m.w2}) t->set_data(t->to(DType::f64));
}

// The reference, written for clarity with one segment at a time.
Tensor naive_lory(const LoryMoE& m, const Tensor& h) {
  const int64_t B = h.size(0), L = h.size(1), D = h.size(2), T = m.segment_len;
  const int64_t E = m.w1.size(0), F = m.w1.size(2), N = (L + T - 1) / T;
  auto seg = [&](int64_t b, int64_t k) {  // (n, D): the tokens of segment k of sequence b
    int64_t t0 = k * T, n = std::min(L, t0 + T) - t0;
    return ops::reshape(ops::narrow(ops::narrow(h, 0, b, 1), 1, t0, n), Shape{n, D});
  };
  auto weights_of = [&](int64_t b, int64_t k) {  // e[b,k] = softmax(R·mean(segment k)), (1,E)
    Tensor hbar = ops::reshape(ops::mean(seg(b, k), 0), Shape{1, D});
    return ops::softmax(ops::linear(hbar, m.router));
  };
  auto merge = [&](const Tensor& e, const Tensor& w, int64_t r, int64_t c) {  // Σ_i e_i W_i
    return ops::reshape(ops::matmul(e, ops::reshape(w, Shape{E, r * c})), Shape{r, c});
  };
  std::vector<Tensor> rows;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < N; ++k) {
      Tensor e;
      if (k > 0)
        e = weights_of(b, k - 1);
      else if (m.first_segment == FirstSegment::uniform)
        e = Tensor::full({1, E}, 1.0 / E, h.dtype());
      else
        e = weights_of(b, 0).detach();
      Tensor x = seg(b, k);
      Tensor y = ops::linear(ops::swiglu(ops::linear(x, merge(e, m.w1, D, F)),
                                         ops::linear(x, merge(e, m.w3, D, F))),
                             merge(e, m.w2, F, D));
      rows.push_back(y);
    }
  return ops::reshape(ops::concat(rows, 0), Shape{B, L, D});
}

}  // namespace

TEST_CASE("Lory layer equals the naive per-segment reference, forward and every gradient",
          "[models][lory]") {
  for (FirstSegment first : {FirstSegment::self_stopgrad, FirstSegment::uniform})
    for (int64_t L : {12, 10, 3}) {  // whole segments, a partial last segment, a single one
      ModelConfig c = layer_config(first);
      Generator gen(7);
      LoryMoE fused(c, gen, c.init_std);
      to_f64(fused);
      Tensor h = Tensor::randn({2, L, c.d_model}, gen, 1.0, DType::f64).set_requires_grad();
      Tensor dy = Tensor::randn({2, L, c.d_model}, gen, 1.0, DType::f64);

      Tensor y = fused.forward(h);
      y.backward(dy);
      // A single self-routed segment gives the router no gradient at all: count that as zero.
      auto grad_or_zero = [](const Tensor& t) {
        return t.grad().defined() ? t.grad().clone() : Tensor::zeros(t.shape(), t.dtype());
      };
      std::vector<Tensor> fused_grads{grad_or_zero(h)};
      for (Tensor* t : {&fused.router, &fused.w1, &fused.w3, &fused.w2}) {
        fused_grads.push_back(grad_or_zero(*t));
        t->set_grad(Tensor());
      }
      h.set_grad(Tensor());

      Tensor y_ref = naive_lory(fused, h);
      y_ref.backward(dy);
      std::vector<Tensor> ref_grads{grad_or_zero(h), grad_or_zero(fused.router),
                                    grad_or_zero(fused.w1), grad_or_zero(fused.w3),
                                    grad_or_zero(fused.w2)};
      INFO("first_segment=" << first_segment_name(first) << " L=" << L);
      auto a = y.to_vector<double>(), b = y_ref.to_vector<double>();
      for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).margin(1e-12));
      const char* names[] = {"h", "router", "w1", "w3", "w2"};
      for (size_t g = 0; g < ref_grads.size(); ++g) {
        INFO("gradient of " << names[g]);
        auto ga = fused_grads[g].to_vector<double>(), gb = ref_grads[g].to_vector<double>();
        for (size_t i = 0; i < ga.size(); ++i) REQUIRE(ga[i] == Approx(gb[i]).margin(1e-11));
      }
    }
}

TEST_CASE("Lory layer passes gradcheck for its input and every parameter", "[models][lory][grad]") {
  // Finite differences see through a stop-gradient, autograd does not: with the paper's
  // self_stopgrad mode they disagree by design (the reference test above covers that mode).
  ModelConfig c = layer_config(FirstSegment::uniform);
  Generator gen(3);
  LoryMoE m(c, gen, c.init_std);
  to_f64(m);
  Tensor h = Tensor::randn({2, 8, c.d_model}, gen, 1.0, DType::f64).set_requires_grad();
  auto r = gradcheck(
      [&](const std::vector<Tensor>&) { return m.forward(h); }, {h, m.router, m.w1, m.w3, m.w2});
  INFO(r.report());
  CHECK(r.ok);
}

TEST_CASE("the router gets no gradient through segment 1's own routing", "[models][lory]") {
  ModelConfig c = layer_config(FirstSegment::self_stopgrad);
  Generator gen(4);
  LoryMoE m(c, gen, c.init_std);
  to_f64(m);
  const int64_t T = c.segment_len;
  Tensor h = Tensor::randn({2, 3 * T, c.d_model}, gen, 1.0, DType::f64).set_requires_grad();
  Tensor y = m.forward(h);
  // Differentiate only the outputs of segment 1: they depend on the router solely through
  // segment 1's own (stop-gradient) routing.
  ops::sum(ops::narrow(y, 1, 0, T)).backward();
  auto g = m.router.grad().to_vector<double>();
  for (double v : g) CHECK(v == 0.0);
  // ... while segment 2's outputs do reach the router.
  m.router.set_grad(Tensor());
  Tensor y2 = m.forward(h);
  ops::sum(ops::narrow(y2, 1, T, T)).backward();
  double norm = 0;
  for (double v : m.router.grad().to_vector<double>()) norm += v * v;
  CHECK(norm > 0);
}

TEST_CASE("Lory layer records its routing weights and they sum to one", "[models][lory]") {
  ModelConfig c = layer_config(FirstSegment::self_stopgrad);
  Generator gen(5);
  LoryMoE m(c, gen, c.init_std);
  Tensor h = Tensor::randn({3, 12, c.d_model}, gen);
  m.forward(h);
  REQUIRE(m.last_routing.shape() == Shape{3, 3, c.n_experts});
  auto w = m.last_routing.to_vector<double>();
  for (int64_t s = 0; s < 9; ++s) {
    double sum = 0;
    for (int64_t i = 0; i < c.n_experts; ++i) sum += w[s * c.n_experts + i];
    CHECK(sum == Approx(1.0).epsilon(1e-6));
  }
}

TEST_CASE("identical experts make the Lory layer the dense FFN; so does E = 1", "[models][lory]") {
  for (int64_t E : {1, 4}) {
    ModelConfig c = layer_config(FirstSegment::self_stopgrad);
    c.n_experts = E;
    Generator gen(6);
    DenseFfn dense(c, gen, c.init_std);
    LoryMoE moe(c, gen, c.init_std);
    moe.w1.set_data(replicate_experts(dense.w1, E));
    moe.w3.set_data(replicate_experts(dense.w3, E));
    moe.w2.set_data(replicate_experts(dense.w2, E));
    Tensor h = Tensor::randn({2, 9, c.d_model}, gen);
    auto a = dense.forward(h).to_vector<float>(), b = moe.forward(h).to_vector<float>();
    for (size_t i = 0; i < a.size(); ++i) CHECK(b[i] == Approx(a[i]).margin(1e-5));
  }
}
