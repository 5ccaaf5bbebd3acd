// cross_entropy: reference via log_softmax gather, ignored targets, large logits, gradients,
// thread invariance, bad targets.
#include "nn_test_util.h"

using namespace lory;
using namespace lory::testing;

namespace {
// -mean over non-ignored rows of log_softmax(logits)[t], gathered from ops::log_softmax.
double reference_ce(const Tensor& logits, const std::vector<int32_t>& t, int ignore_index) {
  std::vector<double> ls = ops::log_softmax(logits.detach()).to_vector<double>();
  size_t V = static_cast<size_t>(logits.size(-1));
  double sum = 0;
  int n = 0;
  for (size_t r = 0; r < t.size(); ++r) {
    if (t[r] == ignore_index) continue;
    sum -= ls[r * V + static_cast<size_t>(t[r])];
    ++n;
  }
  return n ? sum / n : 0.0;
}

Tensor targets_of(const std::vector<int32_t>& t, const Shape& s) {
  return Tensor::from_vector<int32_t>(t, s);
}
}  // namespace

TEST_CASE("cross_entropy matches log_softmax gathered at the targets", "[ops]") {
  Generator gen(1);
  Tensor logits = Tensor::randn({2, 3, 7}, gen, 2.0, DType::f64);
  std::vector<int32_t> t = {0, 6, -100, 3, -100, 1};
  Tensor loss = ops::cross_entropy(logits, targets_of(t, {2, 3}));
  CHECK(loss.rank() == 0);
  CHECK(loss.dtype() == DType::f64);
  CHECK(loss.item() == Approx(reference_ce(logits, t, -100)).epsilon(1e-13));
  // A custom ignore_index; -100 is then an out-of-range target, so use valid ones.
  std::vector<int32_t> t2 = {2, 2, 5, 2, 0, 1};
  CHECK(ops::cross_entropy(logits, targets_of(t2, {2, 3}), 2).item() ==
        Approx(reference_ce(logits, t2, 2)).epsilon(1e-13));
  // f32 logits, one row, one class (loss exactly 0).
  Tensor l32 = logits.to(DType::f32);
  CHECK(ops::cross_entropy(l32, targets_of(t, {2, 3})).item() ==
        Approx(reference_ce(logits, t, -100)).epsilon(1e-6));
  CHECK(ops::cross_entropy(Tensor::randn({4, 1}, gen), targets_of({0, 0, 0, 0}, {4})).item() == 0);
}

TEST_CASE("cross_entropy with every target ignored is 0 with a zero gradient", "[ops]") {
  Generator gen(2);
  Tensor logits = Tensor::randn({3, 5}, gen, 1.0, DType::f64).set_requires_grad();
  Tensor loss = ops::cross_entropy(logits, targets_of({-100, -100, -100}, {3}));
  CHECK(loss.item() == 0.0);
  loss.backward();
  for (double g : logits.grad().to_vector<double>()) CHECK(g == 0.0);
}

TEST_CASE("cross_entropy is stable for logits around 1e4", "[ops]") {
  Generator gen(3);
  Tensor x = Tensor::randn({6, 40}, gen, 4.0, DType::f32);
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] += 1e4f;
  std::vector<int32_t> t = {0, 39, 7, -100, 12, 3};
  Tensor xl = x.clone().set_requires_grad();
  Tensor loss = ops::cross_entropy(xl, targets_of(t, {6}));
  REQUIRE(std::isfinite(loss.item()));
  // Reference from the f32 values themselves, shifted in double (exact), by the naive formula.
  std::vector<double> xv = x.to_vector<double>();
  double want = 0;
  for (int r = 0; r < 6; ++r) {
    if (t[r] < 0) continue;
    double s = 0;
    for (int j = 0; j < 40; ++j) s += std::exp(xv[r * 40 + j] - 1e4);
    want += std::log(s) + 1e4 - xv[r * 40 + t[r]];
  }
  CHECK(loss.item() == Approx(want / 5).epsilon(1e-5));
  loss.backward();
  double row_sum = 0;  // each non-ignored row of dlogits sums to 0 (softmax - onehot)
  for (int j = 0; j < 40; ++j) {
    double g = xl.grad().at(j);
    REQUIRE(std::isfinite(g));
    row_sum += g;
  }
  CHECK(std::fabs(row_sum) < 1e-6);
}

TEST_CASE("cross_entropy gradient passes gradcheck, ignored targets included", "[ops][grad]") {
  Generator gen(4);
  struct Case {
    Shape logits;
    std::vector<int32_t> t;
    Shape ts;
  };
  for (const Case& c :
       {Case{{2, 3, 7}, {0, 6, -100, 3, -100, 1}, {2, 3}}, Case{{1, 1}, {0}, {1}},
        Case{{4, 9}, {8, -100, 0, 4}, {4}}, Case{{2, 1, 3}, {-100, -100}, {2, 1}}}) {
    INFO("logits " << c.logits.str());
    Tensor targets = targets_of(c.t, c.ts);
    require_gradcheck(
        [&](const std::vector<Tensor>& in) { return ops::cross_entropy(in[0], targets); },
        {leaf64(c.logits, gen, 2.0)});
  }
}

TEST_CASE("cross_entropy is bitwise identical with 1 and 2 threads", "[ops]") {
  Generator gen(5);
  Tensor x = Tensor::randn({4, 75, 97}, gen, 3.0);  // above the fork threshold
  std::vector<int32_t> t(300);
  for (size_t i = 0; i < t.size(); ++i)
    t[i] = i % 7 == 0 ? -100 : static_cast<int32_t>(i * 13 % 97);
  Tensor targets = targets_of(t, {4, 75});
  require_same_bits_1_vs_2_threads([&] {
    Tensor xl = x.clone().set_requires_grad();
    Tensor loss = ops::cross_entropy(xl, targets);
    loss.backward();
    return std::vector<Tensor>{loss, xl.grad()};
  });
}

TEST_CASE("cross_entropy rejects bad targets clearly", "[ops]") {
  Tensor logits = Tensor::zeros({2, 3, 5});
  CHECK_THROWS_WITH(ops::cross_entropy(logits, targets_of({0, 1, 2, 3, 4, 7}, {2, 3})),
                    HasSubstr("target at position (1, 2) is 7") &&
                        HasSubstr("[0, 5)"));
  CHECK_THROWS_WITH(ops::cross_entropy(logits, targets_of({0, -1, 2, 3, 4, 0}, {2, 3})),
                    HasSubstr("position (0, 1) is -1"));
  CHECK_THROWS_WITH(ops::cross_entropy(logits, targets_of({0, 1, 2}, {3})),
                    HasSubstr("'targets' has shape (3,)") &&
                        HasSubstr("expected (2, 3)"));
  CHECK_THROWS_WITH(ops::cross_entropy(logits, Tensor::zeros({2, 3})),
                    HasSubstr("expected dtype i32"));
  CHECK_THROWS_WITH(ops::cross_entropy(Tensor::zeros({2, 0}), targets_of({0, 0}, {2})),
                    HasSubstr("non-empty last dim"));
}
