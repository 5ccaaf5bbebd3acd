// AdamW and gradient clipping on the CPU: one update against the formula written out in double,
// the global norm against a direct sum, scaling only above the limit.
#include <cmath>
#include <vector>

#include "catch_compat.h"
#include "core/random.h"
#include "train/adamw.h"

using namespace lory;

namespace {

NamedParams make_params(uint64_t seed, DType dt) {
  Generator gen(seed);
  NamedParams ps;
  for (const char* name : {"layers.0.w", "layers.0.attn_norm", "tok_emb"}) {
    const int64_t n = name[0] == 't' ? 300 : 37;
    ps.push_back({name, Tensor::randn({n}, gen, 1.0, dt).set_requires_grad()});
  }
  return ps;
}

void set_grads(NamedParams& ps, uint64_t seed, double scale) {
  Generator gen(seed);
  for (auto& [name, p] : ps) p.set_grad(Tensor::randn(p.shape(), gen, scale, p.dtype()));
}

}  // namespace

TEST_CASE("AdamW's first update follows the formula, with decay only where it applies",
          "[train]") {
  NamedParams ps = make_params(1, DType::f64);
  set_grads(ps, 2, 0.5);
  std::vector<std::vector<double>> p0, g0;
  for (auto& [name, p] : ps) {
    p0.push_back(p.to_vector<double>());
    g0.push_back(p.grad().to_vector<double>());
  }
  AdamWOptions o;
  AdamW opt(ps, o);
  const double lr = 1e-2;
  opt.step(lr);
  for (size_t k = 0; k < ps.size(); ++k) {
    const bool decays = ps[k].first == "layers.0.w";  // norms and the embedding do not decay
    auto p1 = ps[k].second.to_vector<double>();
    for (size_t i = 0; i < p1.size(); ++i) {
      const double g = g0[k][i];
      const double m = static_cast<float>((1 - o.beta1) * g);  // moments are stored in float
      const double v = static_cast<float>((1 - o.beta2) * g * g);
      const double update = (m / (1 - o.beta1)) / (std::sqrt(v / (1 - o.beta2)) + o.eps) +
                            (decays ? o.weight_decay * p0[k][i] : 0.0);
      CHECK(p1[i] == Approx(p0[k][i] - lr * update).epsilon(1e-12));
    }
  }
}

TEST_CASE("AdamW on float32 parameters: float32 arithmetic within a few ulp of the formula",
          "[train]") {
  // Two steps, so the moments carry over; the reference runs the same float moments in double.
  NamedParams ps = make_params(5, DType::f32);
  AdamWOptions o;
  AdamW opt(ps, o);
  const double lr = 1e-2;
  std::vector<std::vector<double>> p, m, v;
  for (auto& [name, t] : ps) {
    p.push_back(t.to_vector<double>());
    m.push_back(std::vector<double>(p.back().size(), 0.0));
    v.push_back(std::vector<double>(p.back().size(), 0.0));
  }
  for (int step = 1; step <= 2; ++step) {
    set_grads(ps, 6 + step, 0.5);
    const double c1 = 1 - std::pow(o.beta1, step), c2 = 1 - std::pow(o.beta2, step);
    for (size_t k = 0; k < ps.size(); ++k) {
      const bool decays = ps[k].first == "layers.0.w";
      const auto g = ps[k].second.grad().to_vector<double>();
      for (size_t i = 0; i < g.size(); ++i) {
        m[k][i] = static_cast<float>(o.beta1 * m[k][i] + (1 - o.beta1) * g[i]);
        v[k][i] = static_cast<float>(o.beta2 * v[k][i] + (1 - o.beta2) * g[i] * g[i]);
        const double u = (m[k][i] / c1) / (std::sqrt(v[k][i] / c2) + o.eps) +
                         (decays ? o.weight_decay * p[k][i] : 0.0);
        p[k][i] -= lr * u;
      }
    }
    opt.step(lr);
    for (size_t k = 0; k < ps.size(); ++k) {
      const auto got = ps[k].second.to_vector<double>();
      for (size_t i = 0; i < got.size(); ++i) {
        INFO(ps[k].first << "[" << i << "] step " << step);
        // |p| ulps for the subtraction, and the update's own rounding (lr·|u| <= ~lr·1.1)
        CHECK(std::fabs(got[i] - p[k][i]) <= 4e-7 * std::fabs(p[k][i]) + 1e-8);
        p[k][i] = got[i];  // continue from the stored value, as the optimizer does
      }
    }
  }
}

TEST_CASE("clip_grad_norm returns the global norm and scales only above the limit", "[train]") {
  NamedParams ps = make_params(3, DType::f32);
  set_grads(ps, 4, 1.0);
  double sum = 0;
  std::vector<std::vector<float>> before;
  for (auto& [name, p] : ps) {
    before.push_back(p.grad().to_vector<float>());
    for (float g : before.back()) sum += double(g) * g;
  }
  const double norm = std::sqrt(sum);
  CHECK(clip_grad_norm(ps, 2 * norm) == Approx(norm).epsilon(1e-12));  // below: untouched
  for (size_t k = 0; k < ps.size(); ++k) CHECK(ps[k].second.grad().to_vector<float>() == before[k]);
  CHECK(clip_grad_norm(ps, 0.0) == Approx(norm).epsilon(1e-12));  // max_norm 0: no clipping
  for (size_t k = 0; k < ps.size(); ++k) CHECK(ps[k].second.grad().to_vector<float>() == before[k]);
  CHECK(clip_grad_norm(ps, 0.5 * norm) == Approx(norm).epsilon(1e-12));
  const double s = 0.5 * norm / (norm + 1e-6);
  for (size_t k = 0; k < ps.size(); ++k) {
    auto after = ps[k].second.grad().to_vector<float>();
    for (size_t i = 0; i < after.size(); ++i)
      CHECK(after[i] == static_cast<float>(before[k][i] * s));
  }
  CHECK(clip_grad_norm(ps, 1e9) == Approx(0.5 * norm).epsilon(1e-5));
}

TEST_CASE("AdamW refuses hyper-parameters outside their ranges", "[train]") {
  auto options = [](double beta1, double beta2, double eps, double decay) {
    AdamWOptions o;
    o.beta1 = beta1, o.beta2 = beta2, o.eps = eps, o.weight_decay = decay;
    return o;
  };
  const NamedParams ps = make_params(1, DType::f64);
  CHECK_THROWS_WITH(AdamW(ps, options(1.0, 0.95, 1e-8, 0.1)),
                    HasSubstr("AdamW: beta1 is 1; expected 0 <= value < 1"));
  CHECK_THROWS_WITH(AdamW(ps, options(0.9, -0.1, 1e-8, 0.1)), HasSubstr("AdamW: beta2 is -0.1"));
  CHECK_THROWS_WITH(AdamW(ps, options(0.9, 0.95, 0.0, 0.1)), HasSubstr("AdamW: eps is 0"));
  CHECK_THROWS_WITH(AdamW(ps, options(0.9, 0.95, 1e-8, -1)),
                    HasSubstr("AdamW: weight_decay is -1"));
  CHECK_NOTHROW(AdamW(ps, options(0.0, 0.0, 1e-8, 0.0)));
}
