// add, sub, mul, div (same shape, suffix and one-element broadcasting, both ways round),
// add_scalar, mul_scalar: naive loops, gradients, thread independence, errors.
#include <functional>

#include "catch_compat.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;
struct NamedOp {
  const char* name;
  BinaryFn fn;
  double (*ref)(double, double);
};
const std::vector<NamedOp>& all_ops() {
  static const std::vector<NamedOp> ops = {
      {"add", ops::add, [](double u, double v) { return u + v; }},
      {"sub", ops::sub, [](double u, double v) { return u - v; }},
      {"mul", ops::mul, [](double u, double v) { return u * v; }},
      {"div", ops::div, [](double u, double v) { return u / v; }},
  };
  return ops;
}

// Values in +-[0.5, 2]: away from 0, so div and its finite differences are well conditioned.
Tensor away_from_zero(const Shape& shape, Generator& gen, DType dtype = DType::f64) {
  Tensor t = Tensor::uniform(shape, gen, 0.5, 2.0, dtype);
  Tensor sign = Tensor::uniform(shape, gen, -1.0, 1.0, DType::f64);
  for (int64_t i = 0; i < t.numel(); ++i)
    if (sign.at(i) < 0) {
      if (dtype == DType::f64)
        t.data<double>()[i] *= -1;
      else
        t.data<float>()[i] *= -1;
    }
  return t;
}

// Shape pairs (a, b): every broadcasting case, with size-1 dims and sizes 7 and 13.
const std::vector<std::pair<Shape, Shape>> kPairs = {
    {{3, 7}, {3, 7}},      {{2, 7, 13}, {13}}, {{2, 7, 13}, {7, 13}}, {{13}, {2, 7, 13}},
    {{7, 13}, {2, 7, 13}}, {{}, {3, 5}},       {{3, 5}, {}},          {{1}, {3, 5}},
    {{3, 5}, {1, 1}},      {{1, 1, 7}, {7}},   {{3, 1}, {1}},         {{}, {}},
    {{2, 1, 7}, {1, 7}},
};

}  // namespace

TEST_CASE("binary ops match naive loops over the broadcast index", "[ops]") {
  Generator gen(11);
  // (B, L, D) op (D) and (L, D), written as explicit nested loops.
  const int64_t B = 2, L = 3, D = 5;
  Tensor x = Tensor::randn({B, L, D}, gen, 1.0, DType::f64);
  Tensor bias = away_from_zero({D}, gen);
  Tensor pos = away_from_zero({L, D}, gen);
  Tensor s = Tensor::scalar(-1.75, DType::f64);
  for (const auto& op : all_ops()) {
    INFO(op.name);
    Tensor y1 = op.fn(x, bias), y2 = op.fn(pos, x), y3 = op.fn(x, s), y4 = op.fn(s, x);
    REQUIRE(y1.shape() == x.shape());
    REQUIRE(y2.shape() == x.shape());
    for (int64_t b = 0; b < B; ++b)
      for (int64_t l = 0; l < L; ++l)
        for (int64_t d = 0; d < D; ++d) {
          int64_t i = (b * L + l) * D + d;
          CHECK(y1.at(i) == op.ref(x.at(i), bias.at(d)));
          CHECK(y2.at(i) == op.ref(pos.at(l * D + d), x.at(i)));
          CHECK(y3.at(i) == op.ref(x.at(i), -1.75));
          CHECK(y4.at(i) == op.ref(-1.75, x.at(i)));
        }
  }
  // Every pair, f32: element i of the larger shape pairs with element i mod numel of each side.
  for (const auto& [sa, sb] : kPairs) {
    Tensor a = away_from_zero(sa, gen, DType::f32), b = away_from_zero(sb, gen, DType::f32);
    for (const auto& op : all_ops()) {
      INFO(op.name << " " << sa.str() << " " << sb.str());
      Tensor y = op.fn(a, b);
      CHECK(y.shape() == (sa.numel() >= sb.numel() && sa.rank() >= sb.rank() ? sa : sb));
      for (int64_t i = 0; i < y.numel(); ++i) {
        float expect = static_cast<float>(op.ref(a.at(i % a.numel()), b.at(i % b.numel())));
        CHECK(static_cast<float>(y.at(i)) == expect);
      }
    }
  }
}

TEST_CASE("binary ops pass gradcheck for every broadcasting case", "[ops][grad]") {
  Generator gen(12);
  for (const auto& [sa, sb] : kPairs) {
    for (const auto& op : all_ops()) {
      Tensor a = away_from_zero(sa, gen).set_requires_grad();
      Tensor b = away_from_zero(sb, gen).set_requires_grad();
      auto r =
          gradcheck([&](const std::vector<Tensor>& in) { return op.fn(in[0], in[1]); }, {a, b});
      INFO(op.name << " " << sa.str() << " " << sb.str() << "\n" << r.report());
      CHECK(r.ok);
      CHECK(r.inputs.size() == 2);
    }
  }
}

TEST_CASE("binary ops: one input without grad, the same tensor on both sides", "[ops][grad]") {
  Generator gen(13);
  Tensor x = away_from_zero({4, 7}, gen).set_requires_grad();
  Tensor c = away_from_zero({7}, gen);  // no grad: its gradient is never asked for
  for (const auto& op : all_ops()) {
    INFO(op.name);
    auto r1 = gradcheck([&](const std::vector<Tensor>& in) { return op.fn(in[0], in[1]); }, {x, c});
    CHECK(r1.ok);
    CHECK(r1.inputs.size() == 1);
    auto r2 = gradcheck([&](const std::vector<Tensor>& in) { return op.fn(in[0], in[0]); }, {x});
    INFO(r2.report());
    CHECK(r2.ok);
  }
}

TEST_CASE("add_scalar and mul_scalar: values and gradients", "[ops][grad]") {
  Generator gen(14);
  Tensor x = Tensor::randn({3, 1, 7}, gen, 1.0, DType::f64).set_requires_grad();
  Tensor y = ops::add_scalar(x, 2.5), z = ops::mul_scalar(x, -3.0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    CHECK(y.at(i) == x.at(i) + 2.5);
    CHECK(z.at(i) == -3.0 * x.at(i));
  }
  CHECK(
      gradcheck([](const std::vector<Tensor>& in) { return ops::add_scalar(in[0], 2.5); }, {x}).ok);
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return ops::mul_scalar(in[0], -3.0); }, {x})
            .ok);
}

TEST_CASE("binary ops: 1 and 2 threads give bitwise identical values and gradients", "[ops]") {
  Generator gen(15);
  // 100003 (prime) against a scalar; (14287, 7) against (7): the gradient of the smaller side
  // is a long reduction. f64 included: f32 sums accumulated in double are almost always exact
  // in any order, so only f64 would expose an order that depends on the thread count.
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{100003}, {}}, {{14287, 7}, {7}}, {{7}, {14287, 7}}};
  for (DType dtype : {DType::f64, DType::f32}) {
    for (const auto& [sa, sb] : pairs) {
      Tensor a = away_from_zero(sa, gen, dtype), b = away_from_zero(sb, gen, dtype);
      Tensor dy = Tensor::randn(sa.numel() >= sb.numel() ? sa : sb, gen, 1.0, dtype);
      for (const auto& op : all_ops()) {
        INFO(op.name << " " << sa.str() << " " << sb.str() << " " << dtype_name(dtype));
        std::vector<double> runs[2][3];
        for (int threads = 1; threads <= 2; ++threads) {
          set_num_threads(threads);
          Tensor ga = a.clone().set_requires_grad(), gb = b.clone().set_requires_grad();
          Tensor y = op.fn(ga, gb);
          y.backward(dy);
          runs[threads - 1][0] = y.to_vector<double>();
          runs[threads - 1][1] = ga.grad().to_vector<double>();
          runs[threads - 1][2] = gb.grad().to_vector<double>();
        }
        for (int k = 0; k < 3; ++k) CHECK(runs[0][k] == runs[1][k]);
      }
    }
  }
  set_num_threads(2);
}

TEST_CASE("binary ops refuse mismatched shapes, integer and mixed dtypes", "[ops]") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  CHECK_THROWS_WITH(ops::add(a, b), HasSubstr("(2, 3)") &&
                                        HasSubstr("(4,)") &&
                                        HasSubstr("add"));
  CHECK_THROWS_WITH(ops::div(Tensor::zeros({2, 1}), Tensor::zeros({3})),
                    HasSubstr("(2, 1)") && HasSubstr("(3,)"));
  CHECK_THROWS_AS(ops::mul(Tensor::zeros({3, 2}), Tensor::zeros({3})), Error);  // a prefix
  Tensor i = Tensor::arange(3);
  CHECK_THROWS_WITH(ops::mul(i, i), HasSubstr("floating"));
  CHECK_THROWS_WITH(ops::add_scalar(i, 1.0), HasSubstr("floating"));
  CHECK_THROWS_WITH(ops::sub(Tensor::zeros({3}), Tensor::zeros({3}, DType::f64)),
                    HasSubstr("same dtype"));
}
