// neg, exp, log, sqrt, square: naive loops, gradients, thread independence, errors.
#include <cmath>
#include <functional>

#include "catch_compat.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {

struct NamedOp {
  const char* name;
  std::function<Tensor(const Tensor&)> fn;
  double (*ref)(double);
  bool positive_domain;  // log and sqrt: test on x in [0.5, 3]
};
const std::vector<NamedOp>& all_ops() {
  static const std::vector<NamedOp> ops = {
      {"neg", ops::neg, [](double v) { return -v; }, false},
      {"exp", ops::exp, [](double v) { return std::exp(v); }, false},
      {"log", ops::log, [](double v) { return std::log(v); }, true},
      {"sqrt", ops::sqrt, [](double v) { return std::sqrt(v); }, true},
      {"square", ops::square, [](double v) { return v * v; }, false},
  };
  return ops;
}

Tensor input(const NamedOp& op, const Shape& shape, Generator& gen, DType dtype) {
  return op.positive_domain ? Tensor::uniform(shape, gen, 0.5, 3.0, dtype)
                            : Tensor::randn(shape, gen, 1.0, dtype);
}

const std::vector<Shape> kShapes = {{}, {1}, {7}, {3, 1, 13}, {2, 7, 1}};

}  // namespace

TEST_CASE("unary ops match a naive loop in f64 and f32", "[ops]") {
  Generator gen(31);
  for (const auto& op : all_ops()) {
    for (const Shape& s : kShapes) {
      INFO(op.name << " " << s.str());
      Tensor x = input(op, s, gen, DType::f64);
      Tensor y = op.fn(x);
      REQUIRE(y.shape() == s);
      for (int64_t i = 0; i < x.numel(); ++i) CHECK(y.at(i) == op.ref(x.at(i)));
      Tensor xf = input(op, s, gen, DType::f32);
      Tensor yf = op.fn(xf);
      CHECK(yf.dtype() == DType::f32);
      for (int64_t i = 0; i < xf.numel(); ++i)
        CHECK(yf.at(i) == Approx(op.ref(xf.at(i))).epsilon(1e-6));
    }
  }
}

TEST_CASE("unary ops pass gradcheck", "[ops][grad]") {
  Generator gen(32);
  for (const auto& op : all_ops()) {
    for (const Shape& s : kShapes) {
      Tensor x = input(op, s, gen, DType::f64).set_requires_grad();
      auto r = gradcheck([&](const std::vector<Tensor>& in) { return op.fn(in[0]); }, {x});
      INFO(op.name << " " << s.str() << "\n" << r.report());
      CHECK(r.ok);
    }
  }
  // A chain: sqrt(exp(square(x))) = exp(x^2 / 2), with gradient x exp(x^2 / 2).
  Tensor x = Tensor::randn({7}, gen, 1.0, DType::f64).set_requires_grad();
  Tensor y = ops::sqrt(ops::exp(ops::square(x)));
  y.backward(Tensor::ones({7}, DType::f64));
  for (int64_t i = 0; i < 7; ++i) {
    double v = x.at(i);
    CHECK(x.grad().at(i) == Approx(v * std::exp(v * v / 2)).epsilon(1e-12));
  }
}

TEST_CASE("unary ops document their domain: log 0 = -inf, sqrt(-1) = NaN", "[ops]") {
  Tensor zero = Tensor::zeros({1}, DType::f64), minus = Tensor::full({1}, -1.0, DType::f64);
  CHECK(std::isinf(ops::log(zero).item()));
  CHECK(std::isnan(ops::sqrt(minus).item()));
}

TEST_CASE("unary ops: 1 and 2 threads give bitwise identical values and gradients", "[ops]") {
  Generator gen(33);
  for (const auto& op : all_ops()) {
    INFO(op.name);
    Tensor x = input(op, {100003}, gen, DType::f32);
    Tensor dy = Tensor::randn({100003}, gen);
    std::vector<float> runs[2][2];
    for (int threads = 1; threads <= 2; ++threads) {
      set_num_threads(threads);
      Tensor xg = x.clone().set_requires_grad();
      Tensor y = op.fn(xg);
      y.backward(dy);
      runs[threads - 1][0] = y.to_vector<float>();
      runs[threads - 1][1] = xg.grad().to_vector<float>();
    }
    CHECK(runs[0][0] == runs[1][0]);
    CHECK(runs[0][1] == runs[1][1]);
  }
}

TEST_CASE("unary ops refuse integer tensors", "[ops]") {
  Tensor i = Tensor::arange(5);
  for (const auto& op : all_ops()) {
    INFO(op.name);
    CHECK_THROWS_WITH(op.fn(i),
                      HasSubstr(op.name) && HasSubstr("floating"));
  }
  CHECK_THROWS_WITH(ops::exp(Tensor()), HasSubstr("undefined"));
}
