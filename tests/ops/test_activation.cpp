// silu, gelu and the fused swiglu: naive formulas, known values, gradients, thread
// independence, errors.
#include <cmath>

#include "catch_compat.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {
double naive_silu(double x) {
  return x / (1.0 + std::exp(-x));
}
double naive_gelu(double x) {
  return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}
const std::vector<Shape> kShapes = {{}, {1}, {13}, {3, 1, 7}, {2, 7, 13}};
}  // namespace

TEST_CASE("silu and gelu match naive formulas and known values", "[ops]") {
  Generator gen(41);
  for (const Shape& s : kShapes) {
    INFO(s.str());
    Tensor x = Tensor::randn(s, gen, 3.0, DType::f64);
    Tensor ys = ops::silu(x), yg = ops::gelu(x);
    for (int64_t i = 0; i < x.numel(); ++i) {
      CHECK(ys.at(i) == Approx(naive_silu(x.at(i))).epsilon(1e-14).margin(1e-300));
      // 1 + erf(z) cancels for z << 0: x / sqrt 2 and x * (1 / sqrt 2) differ in the last bit,
      // and the relative difference grows there.
      CHECK(yg.at(i) == Approx(naive_gelu(x.at(i))).epsilon(1e-11).margin(1e-300));
    }
  }
  // torch.nn.functional.gelu(torch.tensor([1.0, -0.5], dtype=torch.float64)) (exact erf form)
  Tensor x = Tensor::from_vector<double>({1.0, -0.5, 0.0}, {3});
  CHECK(ops::gelu(x).at(0) == Approx(0.8413447460685429).epsilon(1e-15));
  CHECK(ops::gelu(x).at(1) == Approx(-0.15426876936299344).epsilon(1e-15));
  CHECK(ops::silu(x).at(0) == Approx(0.7310585786300049).epsilon(1e-15));
  CHECK(ops::silu(x).at(2) == 0.0);
  // Saturation: no NaN or inf at the f32 extremes (e^-x overflows for x < -88).
  Tensor big = Tensor::from_vector<float>({-200.f, 200.f, -1e30f, 1e30f}, {4});
  for (const Tensor& y : {ops::silu(big), ops::gelu(big)}) {
    CHECK(y.at(0) == Approx(0.0).margin(1e-30));
    CHECK(y.at(1) == 200.0f);
    CHECK(y.at(2) == Approx(0.0).margin(1e-30));
    CHECK(y.at(3) == 1e30f);
  }
}

TEST_CASE("swiglu equals silu(a) * b, naively", "[ops]") {
  Generator gen(42);
  for (const Shape& s : kShapes) {
    INFO(s.str());
    Tensor a = Tensor::randn(s, gen, 2.0, DType::f64), b = Tensor::randn(s, gen, 1.0, DType::f64);
    Tensor y = ops::swiglu(a, b);
    REQUIRE(y.shape() == s);
    for (int64_t i = 0; i < a.numel(); ++i)
      CHECK(y.at(i) == Approx(naive_silu(a.at(i)) * b.at(i)).epsilon(1e-14).margin(1e-300));
  }
}

TEST_CASE("silu, gelu and swiglu pass gradcheck", "[ops][grad]") {
  Generator gen(43);
  for (const Shape& s : kShapes) {
    INFO(s.str());
    Tensor x = Tensor::randn(s, gen, 2.0, DType::f64).set_requires_grad();
    Tensor b = Tensor::randn(s, gen, 1.0, DType::f64).set_requires_grad();
    auto rs = gradcheck([](const std::vector<Tensor>& in) { return ops::silu(in[0]); }, {x});
    auto rg = gradcheck([](const std::vector<Tensor>& in) { return ops::gelu(in[0]); }, {x});
    auto rw =
        gradcheck([](const std::vector<Tensor>& in) { return ops::swiglu(in[0], in[1]); }, {x, b});
    INFO(rs.report() << rg.report() << rw.report());
    CHECK(rs.ok);
    CHECK(rg.ok);
    CHECK(rw.ok);
    CHECK(rw.inputs.size() == 2);
  }
  // Only one side wanting a gradient, and the same tensor on both sides: silu(x) * x.
  Tensor x = Tensor::randn({4, 7}, gen, 2.0, DType::f64).set_requires_grad();
  Tensor c = Tensor::randn({4, 7}, gen, 1.0, DType::f64);
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return ops::swiglu(in[0], in[1]); }, {x, c})
            .ok);
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return ops::swiglu(in[1], in[0]); }, {x, c})
            .ok);
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return ops::swiglu(in[0], in[0]); }, {x}).ok);
}

TEST_CASE("activations: 1 and 2 threads give bitwise identical values and gradients", "[ops]") {
  Generator gen(44);
  Tensor a = Tensor::randn({100003}, gen, 3.0), b = Tensor::randn({100003}, gen);
  Tensor dy = Tensor::randn({100003}, gen);
  auto run = [&] {
    std::vector<std::vector<float>> out;
    Tensor ag = a.clone().set_requires_grad(), bg = b.clone().set_requires_grad();
    Tensor y = ops::add(ops::add(ops::silu(ag), ops::gelu(ag)), ops::swiglu(ag, bg));
    y.backward(dy);
    out.push_back(y.to_vector<float>());
    out.push_back(ag.grad().to_vector<float>());
    out.push_back(bg.grad().to_vector<float>());
    return out;
  };
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  for (size_t k = 0; k < one.size(); ++k) CHECK(one[k] == two[k]);
}

TEST_CASE("activations refuse integer tensors; swiglu names mismatched shapes", "[ops]") {
  Tensor i = Tensor::arange(4);
  CHECK_THROWS_WITH(ops::silu(i),
                    HasSubstr("silu") && HasSubstr("floating"));
  CHECK_THROWS_WITH(ops::gelu(i), HasSubstr("gelu"));
  CHECK_THROWS_WITH(ops::swiglu(i, i), HasSubstr("floating"));
  CHECK_THROWS_WITH(ops::swiglu(Tensor::zeros({2, 3}), Tensor::zeros({3, 2})),
                    HasSubstr("(2, 3)") && HasSubstr("(3, 2)"));
  CHECK_THROWS_WITH(ops::swiglu(Tensor::zeros({3}), Tensor::zeros({3}, DType::f64)),
                    HasSubstr("same dtype"));
}
