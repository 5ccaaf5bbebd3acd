// One Lory MoE layer, step by step (LORY.md §2): a batch of 2 sequences of 12 tokens, segments of
// T = 4 tokens, E = 3 experts. Prints the segment means, the router logits and weights, the causal
// shift, the norms of each segment's merged weights, the outputs, and the agreement with a naive
// loop that builds every merged FFN by hand.
//
//   ./build/example_lory_layer_walkthrough
#include <cmath>
#include <cstdio>

#include "models/lory_moe.h"
#include "ops/ops.h"

using namespace lory;

namespace {

void print_matrix(const char* title, const Tensor& t) {  // (B, N, K) as one block per sequence
  std::printf("%s %s\n", title, t.shape().str().c_str());
  const int64_t B = t.size(0), N = t.size(1), K = t.size(2);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < N; ++k) {
      std::printf("  b%lld seg%lld:", static_cast<long long>(b), static_cast<long long>(k + 1));
      for (int64_t i = 0; i < std::min<int64_t>(K, 6); ++i) std::printf(" %8.4f", t.at((b * N + k) * K + i));
      std::printf(K > 6 ? " ...\n" : "\n");
    }
}

double frobenius(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

}  // namespace

int main() {
  ModelConfig c;
  c.d_model = 8;
  c.d_ff = 16;
  c.n_experts = 3;
  c.segment_len = 4;
  c.router_std = 0.5;  // a visible routing signal for the demonstration
  c.init_std = 0.5;    // and visible outputs
  Generator gen(2024);
  LoryMoE layer(c, gen, c.init_std);
  const int64_t B = 2, L = 12, D = c.d_model, T = c.segment_len, E = c.n_experts;
  Tensor h = Tensor::randn({B, L, D}, gen);
  std::printf("input h (B=%lld, L=%lld, D=%lld); T=%lld so N=%lld segments; E=%lld experts\n\n",
              static_cast<long long>(B), static_cast<long long>(L), static_cast<long long>(D),
              static_cast<long long>(T), static_cast<long long>(L / T), static_cast<long long>(E));

  // 1. Segment means.
  Tensor hbar = ops::segment_mean(h, T);
  print_matrix("1. segment means hbar (first 6 of D)", hbar);
  // 2. Router logits and weights.
  Tensor logits = ops::linear(hbar, layer.router);
  print_matrix("\n2. router logits R·hbar", logits);
  Tensor e = ops::softmax(logits);
  print_matrix("   router weights e = softmax(R·hbar)", e);
  // 3. The layer's own forward pass applies the causal shift; it records the weights it used.
  Tensor y = layer.forward(h);
  print_matrix("\n3. after the causal shift, weights used ê (segment k uses e of segment k-1;\n"
               "   segment 1 routes itself, under stop-gradient)", layer.last_routing);

  // 4. The merged weights of each segment, built by hand, and 5. a naive per-segment FFN.
  std::printf("\n4. merged FFN per segment: ||Wbar1||, ||Wbar3||, ||Wbar2|| (Frobenius)\n");
  const int64_t F = c.d_ff, N = L / T;
  auto W1 = layer.w1.to_vector<double>(), W3 = layer.w3.to_vector<double>(), W2 = layer.w2.to_vector<double>();
  auto H = h.to_vector<double>(), R = layer.last_routing.to_vector<double>();
  std::vector<double> naive(B * L * D, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < N; ++k) {
      std::vector<double> m1(D * F, 0), m3(D * F, 0), m2(F * D, 0);
      for (int64_t i = 0; i < E; ++i)
        for (int64_t p = 0; p < D * F; ++p) {
          const double r = R[(b * N + k) * E + i];
          m1[p] += r * W1[i * D * F + p], m3[p] += r * W3[i * D * F + p], m2[p] += r * W2[i * F * D + p];
        }
      std::printf("  b%lld seg%lld: %.4f %.4f %.4f\n", static_cast<long long>(b), static_cast<long long>(k + 1),
                  frobenius(m1), frobenius(m3), frobenius(m2));
      for (int64_t t = k * T; t < (k + 1) * T; ++t)
        for (int64_t f = 0; f < F; ++f) {
          double a = 0, g = 0;
          for (int64_t d = 0; d < D; ++d) a += H[(b * L + t) * D + d] * m1[d * F + f], g += H[(b * L + t) * D + d] * m3[d * F + f];
          const double hid = a / (1 + std::exp(-a)) * g;
          for (int64_t d = 0; d < D; ++d) naive[(b * L + t) * D + d] += hid * m2[f * D + d];
        }
    }

  auto got = y.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - naive[i]));
  std::printf("\n5. output y (B, L, D); first token of each sequence:\n");
  for (int64_t b = 0; b < B; ++b) {
    std::printf("  b%lld t0:", static_cast<long long>(b));
    for (int64_t d = 0; d < D; ++d) std::printf(" %8.4f", got[b * L * D + d]);
    std::printf("\n");
  }
  std::printf("\nmax |fused layer - naive loop| = %.3g (float32 arithmetic)\n", worst);
  return worst < 1e-4 ? 0 : 1;
}
