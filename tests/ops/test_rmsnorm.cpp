// rmsnorm: naive reference, gradients (x and weight), thread invariance, bad inputs.
#include "nn_test_util.h"

using namespace lory;
using namespace lory::testing;

namespace {
// y = x / sqrt(mean(x²) + eps) * w, row by row, in double.
std::vector<double> naive_rmsnorm(const Tensor& x, const Tensor& w, double eps) {
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), y(xv.size());
  size_t D = wv.size();
  for (size_t r = 0; r < xv.size() / D; ++r) {
    double ss = 0;
    for (size_t j = 0; j < D; ++j) ss += xv[r * D + j] * xv[r * D + j];
    double rstd = 1.0 / std::sqrt(ss / D + eps);
    for (size_t j = 0; j < D; ++j) y[r * D + j] = xv[r * D + j] * rstd * wv[j];
  }
  return y;
}
}  // namespace

TEST_CASE("rmsnorm matches a naive reference", "[ops]") {
  Generator gen(1);
  for (Shape s : {Shape{2, 3, 7}, Shape{1, 1}, Shape{5}, Shape{4, 1, 130}}) {
    INFO("shape " << s.str());
    Tensor x = Tensor::randn(s, gen, 2.0, DType::f64);
    Tensor w = Tensor::randn({s[-1]}, gen, 1.0, DType::f64);
    Tensor y = ops::rmsnorm(x, w, 1e-5);
    CHECK(y.shape() == s);
    CHECK(max_abs_diff(y, naive_rmsnorm(x, w, 1e-5)) < 1e-12);
    Tensor y32 = ops::rmsnorm(x.to(DType::f32), w.to(DType::f32), 0.1);
    CHECK(y32.dtype() == DType::f32);
    CHECK(max_abs_diff(y32, naive_rmsnorm(x, w, 0.1)) < 1e-5);
  }
}

TEST_CASE("rmsnorm gradients pass gradcheck", "[ops][grad]") {
  Generator gen(2);
  auto fn = [](const std::vector<Tensor>& in) { return ops::rmsnorm(in[0], in[1], 1e-5); };
  for (Shape s : {Shape{3, 7}, Shape{1, 1}, Shape{2, 1, 5}, Shape{70, 3}}) {
    INFO("shape " << s.str());
    require_gradcheck(fn, {leaf64(s, gen), leaf64({s[-1]}, gen)});
  }
  // Only one of the two inputs wants a gradient.
  require_gradcheck(fn, {leaf64({4, 6}, gen), Tensor::randn({6}, gen, 1.0, DType::f64)});
  require_gradcheck(fn, {Tensor::randn({4, 6}, gen, 1.0, DType::f64), leaf64({6}, gen)});
}

TEST_CASE("rmsnorm is bitwise identical with 1 and 2 threads", "[ops]") {
  Generator gen(3);
  Tensor x = Tensor::randn({5, 97, 37}, gen);  // 485 rows: 8 row blocks for dweight, forked
  Tensor w = Tensor::randn({37}, gen);
  Tensor dy = Tensor::randn({5, 97, 37}, gen);
  require_same_bits_1_vs_2_threads([&] {
    Tensor xl = x.clone().set_requires_grad(), wl = w.clone().set_requires_grad();
    Tensor y = ops::rmsnorm(xl, wl);
    y.backward(dy);
    return std::vector<Tensor>{y, xl.grad(), wl.grad()};
  });
}

TEST_CASE("rmsnorm rejects bad inputs clearly", "[ops]") {
  Tensor x = Tensor::zeros({2, 4});
  CHECK_THROWS_WITH(ops::rmsnorm(x, Tensor::ones({5})),
                    HasSubstr("argument 'weight' has shape (5,)") &&
                        HasSubstr("expected (4,)"));
  CHECK_THROWS_WITH(ops::rmsnorm(x, Tensor::ones({4}, DType::f64)),
                    HasSubstr("expected the same dtype"));
  CHECK_THROWS_WITH(ops::rmsnorm(Tensor::zeros({2, 4}, DType::i32), Tensor::ones({4}, DType::i32)),
                    HasSubstr("expected a floating dtype"));
  CHECK_THROWS_WITH(ops::rmsnorm(Tensor::scalar(1.0), Tensor::ones({1})),
                    HasSubstr("expected rank >= 1"));
  CHECK_THROWS_WITH(ops::rmsnorm(x, Tensor::ones({4}), -1.0),
                    HasSubstr("eps is -1"));
}
