// lory_ffn against a naive loop that builds every segment's merged FFN explicitly; gradients by
// finite differences; thread-count independence; merged weights are not retained.
#include <array>
#include <cmath>

#include "catch_compat.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {

// y[b,t] = Wbar2ᵀ (silu(Wbar1ᵀ x) ⊙ Wbar3ᵀ x) with Wbar = Σ_i route[b, t/T, i] W[i], in loops.
std::vector<double> naive_lory_ffn(const Tensor& x, const Tensor& route, const Tensor& w1,
                                   const Tensor& w3, const Tensor& w2, int64_t T) {
  const int64_t B = x.size(0), L = x.size(1), D = x.size(2), E = w1.size(0), F = w1.size(2);
  const int64_t N = route.size(1);
  auto X = x.to_vector<double>(), R = route.to_vector<double>();
  auto W1 = w1.to_vector<double>(), W3 = w3.to_vector<double>(), W2 = w2.to_vector<double>();
  std::vector<double> y(B * L * D, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < N; ++k) {
      std::vector<double> m1(D * F, 0), m3(D * F, 0), m2(F * D, 0);  // this segment's FFN
      for (int64_t i = 0; i < E; ++i) {
        double r = R[(b * N + k) * E + i];
        for (int64_t p = 0; p < D * F; ++p) {
          m1[p] += r * W1[i * D * F + p];
          m3[p] += r * W3[i * D * F + p];
          m2[p] += r * W2[i * F * D + p];
        }
      }
      for (int64_t t = k * T; t < std::min(L, (k + 1) * T); ++t) {
        const double* xt = &X[(b * L + t) * D];
        for (int64_t f = 0; f < F; ++f) {
          double a = 0, g = 0;
          for (int64_t c = 0; c < D; ++c) a += xt[c] * m1[c * F + f], g += xt[c] * m3[c * F + f];
          double h = a / (1 + std::exp(-a)) * g;
          for (int64_t c = 0; c < D; ++c) y[(b * L + t) * D + c] += h * m2[f * D + c];
        }
      }
    }
  return y;
}

struct Case {
  Tensor x, route, w1, w3, w2;
};

Case make_case(int64_t B, int64_t L, int64_t D, int64_t F, int64_t E, int64_t T, DType dt,
               uint64_t seed) {
  Generator gen(seed);
  int64_t N = (L + T - 1) / T;
  Case c;
  c.x = Tensor::randn({B, L, D}, gen, 1.0, dt);
  c.route = Tensor::uniform({B, N, E}, gen, 0.0, 1.0, dt);
  c.w1 = Tensor::randn({E, D, F}, gen, 0.5, dt);
  c.w3 = Tensor::randn({E, D, F}, gen, 0.5, dt);
  c.w2 = Tensor::randn({E, F, D}, gen, 0.5, dt);
  return c;
}

}  // namespace

TEST_CASE("lory_ffn matches a naive per-segment merge", "[ops][lory]") {
  for (auto [L, T] : {std::pair<int64_t, int64_t>{12, 4}, {10, 4}, {5, 8}, {37, 3}}) {
    Case c = make_case(2, L, 5, 7, 3, T, DType::f64, 11 + L);
    Tensor y = ops::lory_ffn(c.x, c.route, c.w1, c.w3, c.w2, T);
    auto ref = naive_lory_ffn(c.x, c.route, c.w1, c.w3, c.w2, T);
    auto got = y.to_vector<double>();
    REQUIRE(got.size() == ref.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(ref[i]).margin(1e-12));
  }
}

TEST_CASE("lory_ffn gradients pass gradcheck for every input", "[ops][lory][grad]") {
  for (auto [L, T] : {std::pair<int64_t, int64_t>{6, 3}, {7, 3}, {4, 4}, {301, 300}}) {  // T > 256: two depth blocks
    Case c = make_case(2, L, 3, 5, 3, T, DType::f64, 5 + L);
    for (Tensor* t : {&c.x, &c.route, &c.w1, &c.w3, &c.w2}) t->set_requires_grad();
    int64_t seg = T;
    auto r = gradcheck(
        [seg](const std::vector<Tensor>& in) {
          return ops::lory_ffn(in[0], in[1], in[2], in[3], in[4], seg);
        },
        {c.x, c.route, c.w1, c.w3, c.w2});
    INFO("L=" << L << " T=" << T << "\n" << r.report());
    CHECK(r.ok);
    CHECK(r.inputs.size() == 5);
  }
}

TEST_CASE("lory_ffn with identical experts and weights summing to 1 is the dense FFN",
          "[ops][lory]") {
  Case c = make_case(1, 8, 4, 6, 1, 4, DType::f64, 3);
  Tensor dense = ops::lory_ffn(c.x, Tensor::ones({1, 2, 1}, DType::f64), c.w1, c.w3, c.w2, 4);
  auto rep = [](const Tensor& w) {  // E=4 identical copies
    Tensor out = Tensor::empty({4, w.size(1), w.size(2)}, DType::f64);
    for (int i = 0; i < 4; ++i)
      std::copy(w.data<double>(), w.data<double>() + w.numel(), out.data<double>() + i * w.numel());
    return out;
  };
  Tensor route = Tensor::from_vector<double>({0.1, 0.2, 0.3, 0.4, 0.7, 0.1, 0.1, 0.1}, {1, 2, 4});
  Tensor merged = ops::lory_ffn(c.x, route, rep(c.w1), rep(c.w3), rep(c.w2), 4);
  auto a = dense.to_vector<double>(), b = merged.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) CHECK(b[i] == Approx(a[i]).margin(1e-12));
}

TEST_CASE("lory_ffn is bitwise identical with 1 and 2 threads", "[ops][lory]") {
  Case c = make_case(3, 40, 16, 24, 4, 8, DType::f32, 9);
  for (Tensor* t : {&c.x, &c.route, &c.w1, &c.w3, &c.w2}) t->set_requires_grad();
  auto run = [&](int threads) {
    set_num_threads(threads);
    for (Tensor* t : {&c.x, &c.route, &c.w1, &c.w3, &c.w2}) t->set_grad(Tensor());
    Tensor y = ops::lory_ffn(c.x, c.route, c.w1, c.w3, c.w2, 8);
    Generator gen(1);
    y.backward(Tensor::randn(y.shape(), gen));
    std::vector<std::vector<float>> out{y.to_vector<float>()};
    for (Tensor* t : {&c.x, &c.route, &c.w1, &c.w3, &c.w2}) out.push_back(t->grad().to_vector<float>());
    return out;
  };
  int saved = num_threads();
  auto one = run(1), two = run(2);
  set_num_threads(saved);
  CHECK(one == two);
}

TEST_CASE("lory_ffn keeps no merged weights after forward", "[ops][lory]") {
  // B·N = 32 segments of an FFN with D·F = 4096: holding merged copies would cost
  // 32 · 3 · 4096 · 4 B = 1.5 MiB; the op keeps only y, a and g (B·L·(D + 2F) floats).
  const int64_t B = 4, L = 64, D = 32, F = 128, E = 8, T = 8;
  Case c = make_case(B, L, D, F, E, T, DType::f32, 2);
  for (Tensor* t : {&c.x, &c.route, &c.w1, &c.w3, &c.w2}) t->set_requires_grad();
  int64_t before = memory_stats().live_bytes;
  Tensor y = ops::lory_ffn(c.x, c.route, c.w1, c.w3, c.w2, T);
  int64_t kept = memory_stats().live_bytes - before;
  CHECK(kept == B * L * (D + 2 * F) * 4);
}

TEST_CASE("lory_ffn rejects mismatched shapes with a clear message", "[ops][lory]") {
  Case c = make_case(2, 8, 4, 6, 3, 4, DType::f32, 1);
  Tensor bad_route = Tensor::zeros({2, 3, 3});
  CHECK_THROWS_WITH(ops::lory_ffn(c.x, bad_route, c.w1, c.w3, c.w2, 4),
                    HasSubstr("route has shape (2, 3, 3)"));
  CHECK_THROWS_WITH(ops::lory_ffn(c.x, c.route, c.w1, c.w3, c.w1, 4),
                    HasSubstr("w2 has shape"));
  CHECK_THROWS_AS(ops::lory_ffn(c.x, c.route, c.w1, c.w3, c.w2, 0), Error);
}

// float32 (the blocked CPU kernels) against float64 (portable loops), with the inputs that need a
// gradient given by `needs` (x, route, w1, w3, w2).
void check_f32_against_f64(int64_t B, int64_t L, int64_t D, int64_t F, int64_t E, int64_t T,
                           std::array<bool, 5> needs) {
  Case c = make_case(B, L, D, F, E, T, DType::f64, 21);
  c.route = ops::scale(c.route, 0.25);  // merged weights of the experts' scale
  auto to_f32 = [](const Tensor& t) {
    auto v = t.to_vector<double>();
    return Tensor::from_vector(std::vector<float>(v.begin(), v.end()), t.shape());
  };
  std::vector<Tensor> f64{c.x, c.route, c.w1, c.w3, c.w2}, f32;
  for (size_t k = 0; k < f64.size(); ++k) {
    f32.push_back(to_f32(f64[k]));
    if (!needs[k]) continue;
    f32[k].set_requires_grad();
    f64[k].set_requires_grad();
  }
  Generator gen(3);
  Tensor dy = Tensor::randn({B, L, D}, gen, 1.0, DType::f64);
  Tensor y64 = ops::lory_ffn(f64[0], f64[1], f64[2], f64[3], f64[4], T);
  Tensor y32 = ops::lory_ffn(f32[0], f32[1], f32[2], f32[3], f32[4], T);
  y64.backward(dy);
  y32.backward(to_f32(dy));
  // Relative RMS error of each result: float32 round-off over sums of a few hundred terms.
  auto rel_rms = [](const Tensor& got, const Tensor& ref) {
    auto g = got.to_vector<float>();
    auto r = ref.to_vector<double>();
    double err = 0, norm = 0;
    for (size_t i = 0; i < r.size(); ++i) err += (g[i] - r[i]) * (g[i] - r[i]), norm += r[i] * r[i];
    return std::sqrt(err / norm);
  };
  CHECK(rel_rms(y32, y64) < 1e-5);
  const char* names[] = {"dx", "droute", "dw1", "dw3", "dw2"};
  for (int k = 0; k < 5; ++k) {
    if (!needs[k]) continue;
    INFO(names[k] << " of D=" << D << " F=" << F << " E=" << E << " T=" << T);
    CHECK(rel_rms(f32[k].grad(), f64[k].grad()) < 1e-5);
  }
}

TEST_CASE("lory_ffn in float32 at shapes that use the blocked CPU kernels matches float64",
          "[ops][lory]") {
  const std::array<bool, 5> all{true, true, true, true, true};
  // E = 8 and widths of multiples of 16 take the AVX2 merge; F > 256 two depth blocks of the
  // packed GEMM; D = 80 and F = 272 tiles that overhang and G tiles with 2 rows past the last
  // micro-tile; 15 segments (the last of each sequence partial); T = 24 segment rows that are
  // whole micro-tiles.
  check_f32_against_f64(3, 100, 80, 272, 8, 24, all);
  // Widths that are not multiples of 16 (G tiles with partial columns), E = 4, T = 16.
  check_f32_against_f64(2, 50, 84, 200, 4, 16, all);
  // Only some gradients wanted: the folds without the router's dot products, and without the
  // expert gradients.
  check_f32_against_f64(2, 50, 84, 200, 4, 16, {true, false, true, true, true});
  check_f32_against_f64(2, 50, 84, 200, 4, 16, {true, true, false, false, false});
  // Segments longer than a GEMM depth block (T = 280 > 256): the grouped schedule in float32.
  check_f32_against_f64(1, 300, 20, 40, 2, 280, all);
  // Sequences shorter than a segment (L = 5 < T = 8), an odd number of experts, tiny widths.
  check_f32_against_f64(2, 5, 20, 36, 3, 8, all);
  // 40 segments: the expert gradients are folded over two groups of segments (32, then 8).
  check_f32_against_f64(5, 60, 40, 48, 8, 8, all);
}
