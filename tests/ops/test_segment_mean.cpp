// segment_mean: naive loop over segments (partial last segment included), gradients, thread
// invariance, bad inputs.
#include "nn_test_util.h"

using namespace lory;
using namespace lory::testing;

namespace {
// y[b,k] = mean of x[b,t] over t in [k·T, min((k+1)·T, L)).
std::vector<double> naive_segment_mean(const Tensor& x, int64_t T) {
  int64_t B = x.size(0), L = x.size(1), D = x.size(2), N = (L + T - 1) / T;
  std::vector<double> xv = x.to_vector<double>(), y(static_cast<size_t>(B * N * D), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < N; ++k) {
      int64_t count = 0;
      for (int64_t t = k * T; t < L && t < (k + 1) * T; ++t, ++count)
        for (int64_t j = 0; j < D; ++j) y[(b * N + k) * D + j] += xv[(b * L + t) * D + j];
      for (int64_t j = 0; j < D; ++j) y[(b * N + k) * D + j] /= static_cast<double>(count);
    }
  return y;
}
}  // namespace

TEST_CASE("segment_mean matches a naive loop over segments", "[ops]") {
  Generator gen(1);
  struct Case {
    Shape x;
    int64_t T, N;
  };
  for (const Case& c : {Case{{2, 7, 3}, 3, 3},    // last segment holds 1 token
                        Case{{2, 8, 5}, 4, 2},    // L a multiple of T
                        Case{{1, 5, 2}, 1, 5},    // T = 1: the identity
                        Case{{3, 4, 1}, 10, 1}})  // T > L: one partial segment
  {
    INFO("x " << c.x.str() << " T " << c.T);
    Tensor x = Tensor::randn(c.x, gen, 1.0, DType::f64);
    Tensor y = ops::segment_mean(x, c.T);
    CHECK(y.shape() == Shape{c.x[0], c.N, c.x[2]});
    CHECK(max_abs_diff(y, naive_segment_mean(x, c.T)) < 1e-14);
    CHECK(max_abs_diff(ops::segment_mean(x.to(DType::f32), c.T), naive_segment_mean(x, c.T)) <
          1e-6);
  }
}

TEST_CASE("segment_mean gradient passes gradcheck", "[ops][grad]") {
  Generator gen(2);
  struct Case {
    Shape x;
    int64_t T;
  };
  for (const Case& c :
       {Case{{2, 7, 3}, 3}, Case{{1, 1, 1}, 4}, Case{{2, 8, 5}, 4}, Case{{1, 9, 2}, 2}}) {
    INFO("x " << c.x.str() << " T " << c.T);
    int64_t T = c.T;
    require_gradcheck([T](const std::vector<Tensor>& in) { return ops::segment_mean(in[0], T); },
                      {leaf64(c.x, gen)});
  }
}

TEST_CASE("segment_mean is bitwise identical with 1 and 2 threads", "[ops]") {
  Generator gen(3);
  Tensor x = Tensor::randn({3, 301, 24}, gen);  // above the fork threshold
  Tensor dy = Tensor::randn({3, 10, 24}, gen);
  require_same_bits_1_vs_2_threads([&] {
    Tensor xl = x.clone().set_requires_grad();
    Tensor y = ops::segment_mean(xl, 32);
    y.backward(dy);
    return std::vector<Tensor>{y, xl.grad()};
  });
}

TEST_CASE("segment_mean rejects bad inputs clearly", "[ops]") {
  CHECK_THROWS_WITH(ops::segment_mean(Tensor::zeros({2, 4, 3}), 0),
                    HasSubstr("segment length T is 0"));
  CHECK_THROWS_WITH(ops::segment_mean(Tensor::zeros({4, 3}), 2),
                    HasSubstr("segment_mean: argument 'x' has shape (4, 3)") &&
                        HasSubstr("expected rank 3"));
  CHECK_THROWS_WITH(ops::segment_mean(Tensor::zeros({1, 4, 3}, DType::i32), 2),
                    HasSubstr("expected a floating dtype"));
}
