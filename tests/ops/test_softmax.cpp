// softmax / log_softmax: naive reference, large logits, gradients, thread invariance, bad inputs.
#include "nn_test_util.h"

using namespace lory;
using namespace lory::testing;

namespace {
// Row-wise softmax (or its log) by the textbook formula, in long double so that logits ~1e4
// (where exp overflows double) still have a reference: the max is subtracted first.
std::vector<double> naive_softmax(const Tensor& x, bool log) {
  std::vector<double> xv = x.to_vector<double>(), y(xv.size());
  size_t V = static_cast<size_t>(x.size(-1));
  for (size_t r = 0; r < xv.size() / V; ++r) {
    double m = xv[r * V];
    for (size_t j = 0; j < V; ++j) m = std::max(m, xv[r * V + j]);
    long double sum = 0;
    for (size_t j = 0; j < V; ++j) sum += std::exp(static_cast<long double>(xv[r * V + j] - m));
    for (size_t j = 0; j < V; ++j) {
      long double e = std::exp(static_cast<long double>(xv[r * V + j] - m));
      y[r * V + j] = static_cast<double>(log ? (xv[r * V + j] - m) - std::log(sum) : e / sum);
    }
  }
  return y;
}
}  // namespace

TEST_CASE("softmax and log_softmax match a naive reference", "[ops]") {
  Generator gen(1);
  for (Shape s : {Shape{3, 1, 7}, Shape{1}, Shape{4, 1}, Shape{2, 129}}) {
    INFO("shape " << s.str());
    Tensor x = Tensor::randn(s, gen, 3.0, DType::f64);
    CHECK(max_abs_diff(ops::softmax(x), naive_softmax(x, false)) < 1e-14);
    CHECK(max_abs_diff(ops::log_softmax(x), naive_softmax(x, true)) < 1e-13);
    Tensor x32 = x.to(DType::f32);
    CHECK(max_abs_diff(ops::softmax(x32), naive_softmax(x32, false)) < 1e-6);
    CHECK(max_abs_diff(ops::log_softmax(x32), naive_softmax(x32, true)) < 1e-5);
  }
  // One class: probability 1, log-probability 0.
  Tensor one = Tensor::randn({3, 1}, gen);
  CHECK(ops::softmax(one).to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(ops::log_softmax(one).to_vector<float>() == std::vector<float>{0, 0, 0});
}

TEST_CASE("softmax is stable for logits around +-1e4", "[ops]") {
  Generator gen(2);
  for (double centre : {1e4, -1e4}) {
    Tensor x = Tensor::randn({4, 50}, gen, 5.0, DType::f32);
    float* p = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) p[i] += static_cast<float>(centre);
    Tensor s = ops::softmax(x), ls = ops::log_softmax(x);
    for (double v : s.to_vector<double>()) REQUIRE(std::isfinite(v));
    for (double v : ls.to_vector<double>()) REQUIRE(std::isfinite(v));
    CHECK(max_abs_diff(s, naive_softmax(x, false)) < 1e-6);
    CHECK(max_abs_diff(ls, naive_softmax(x, true)) < 1e-4);
  }
  // f64 logits far beyond exp's range (exp(1000) overflows double).
  Tensor big = Tensor::from_vector<double>({1000, 999, -1000}, {1, 3});
  std::vector<double> s = ops::softmax(big).to_vector<double>();
  CHECK(s[0] == Approx(1 / (1 + std::exp(-1.0))));
  CHECK(s[1] == Approx(std::exp(-1.0) / (1 + std::exp(-1.0))));
  CHECK(s[2] == 0.0);
  CHECK(ops::log_softmax(big).at(2) == Approx(-2000 - std::log1p(std::exp(-1.0))));
}

TEST_CASE("softmax and log_softmax gradients pass gradcheck", "[ops][grad]") {
  Generator gen(3);
  auto sm = [](const std::vector<Tensor>& in) { return ops::softmax(in[0]); };
  auto lsm = [](const std::vector<Tensor>& in) { return ops::log_softmax(in[0]); };
  for (Shape s : {Shape{2, 3, 7}, Shape{1, 1}, Shape{5, 1}, Shape{1, 9}}) {
    INFO("shape " << s.str());
    require_gradcheck(sm, {leaf64(s, gen, 2.0)});
    require_gradcheck(lsm, {leaf64(s, gen, 2.0)});
  }
}

TEST_CASE("softmax and log_softmax are bitwise identical with 1 and 2 threads", "[ops]") {
  Generator gen(4);
  Tensor x = Tensor::randn({3, 67, 101}, gen, 3.0);  // above the fork threshold
  Tensor dy = Tensor::randn({3, 67, 101}, gen);
  require_same_bits_1_vs_2_threads([&] {
    Tensor a = x.clone().set_requires_grad(), b = x.clone().set_requires_grad();
    Tensor s = ops::softmax(a), ls = ops::log_softmax(b);
    s.backward(dy);
    ls.backward(dy);
    return std::vector<Tensor>{s, ls, a.grad(), b.grad()};
  });
}

TEST_CASE("softmax rejects bad inputs clearly", "[ops]") {
  CHECK_THROWS_WITH(ops::softmax(Tensor::scalar(1.0)),
                    HasSubstr("softmax: argument 'x' has shape ()") &&
                        HasSubstr("expected rank >= 1"));
  CHECK_THROWS_WITH(
      ops::log_softmax(Tensor::zeros({3, 0})),
      HasSubstr("log_softmax") && HasSubstr("non-empty last dim"));
  CHECK_THROWS_WITH(ops::softmax(Tensor::zeros({3}, DType::i32)),
                    HasSubstr("expected a floating dtype"));
}
