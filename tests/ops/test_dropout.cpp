// dropout: the mask is a function of the generator state, E[y] = E[x], dx = dy m / (1 - p),
// identity when not training, thread independence, bad p.
#include <cmath>

#include "catch_compat.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

TEST_CASE("dropout keeps element i exactly when uniform_at(seed, first + i) >= p", "[ops]") {
  Generator data(51);
  Tensor x = Tensor::uniform({7, 13}, data, 0.5, 2.0, DType::f64);  // never 0: kept != dropped
  const double p = 0.3;
  Generator gen(99, 1000);
  Tensor y = ops::dropout(x, p, gen, true);
  CHECK(gen.offset() == 1000 + 91);  // advanced by numel
  int64_t kept = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    bool keep = uniform_at(99, 1000 + i) >= p;
    kept += keep;
    CHECK(y.at(i) == (keep ? x.at(i) * (1.0 / (1.0 - p)) : 0.0));
  }
  CHECK(kept > 0);
  CHECK(kept < x.numel());

  // The same generator state gives the same mask; the next call a different one.
  Generator g1(7, 5), g2(7, 5);
  Tensor a = ops::dropout(x, 0.5, g1, true), b = ops::dropout(x, 0.5, g2, true);
  CHECK(a.to_vector<double>() == b.to_vector<double>());
  Tensor c = ops::dropout(x, 0.5, g1, true);
  CHECK(a.to_vector<double>() != c.to_vector<double>());
}

TEST_CASE("dropout preserves the mean and drops a fraction p", "[ops]") {
  Generator data(52), gen(53);
  const int64_t n = 200000;
  Tensor x = Tensor::uniform({n}, data, 1.0, 3.0);  // mean 2
  for (double p : {0.1, 0.5, 0.9}) {
    INFO("p " << p);
    Tensor y = ops::dropout(x, p, gen, true);
    double mx = ops::mean(x).item(), my = ops::mean(y).item();
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; ++i) zeros += y.at(i) == 0.0;
    // Standard errors: the drop fraction sqrt(p (1 - p) / n) <= 0.0012; the mean of y about
    // 2 sqrt(p / (1 - p) / n) <= 0.014 at p = 0.9. Allow 5 of each.
    CHECK(static_cast<double>(zeros) / n == Approx(p).margin(0.006));
    CHECK(my == Approx(mx).margin(0.07));
  }
}

TEST_CASE("dropout's gradient is mask / (1 - p), from the same mask", "[ops][grad]") {
  Generator data(54);
  Tensor x = Tensor::randn({3, 1, 13}, data, 1.0, DType::f64).set_requires_grad();
  const double p = 0.4;
  Generator gen(5);
  Tensor y = ops::dropout(x, p, gen, true);
  Tensor dy = Tensor::randn(x.shape(), data, 1.0, DType::f64);
  y.backward(dy);
  for (int64_t i = 0; i < x.numel(); ++i) {
    double mask = uniform_at(5, static_cast<uint64_t>(i)) >= p ? 1.0 : 0.0;
    CHECK(x.grad().at(i) == dy.at(i) * (mask / (1.0 - p)));
    CHECK(y.at(i) == x.at(i) * (mask / (1.0 - p)));
  }
  // gradcheck with the generator state reset for every evaluation (the same mask each time).
  Tensor z = Tensor::randn({7}, data, 1.0, DType::f64).set_requires_grad();
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator g(77);
        return ops::dropout(in[0], 0.25, g, true);
      },
      {z});
  INFO(r.report());
  CHECK(r.ok);
}

TEST_CASE("dropout is the identity when not training or p = 0, and leaves gen alone", "[ops]") {
  Generator data(55);
  Tensor x = Tensor::randn({4, 5}, data).set_requires_grad();
  Generator gen(1, 10);
  CHECK(ops::dropout(x, 0.5, gen, false).is_same(x));
  CHECK(ops::dropout(x, 0.0, gen, true).is_same(x));
  CHECK(gen.offset() == 10);
}

TEST_CASE("dropout: 1 and 2 threads give bitwise identical masks and gradients", "[ops]") {
  Generator data(56);
  Tensor x = Tensor::randn({100003}, data), dy = Tensor::randn({100003}, data);
  std::vector<float> runs[2][2];
  for (int threads = 1; threads <= 2; ++threads) {
    set_num_threads(threads);
    Generator gen(8, 3);
    Tensor xg = x.clone().set_requires_grad();
    Tensor y = ops::dropout(xg, 0.2, gen, true);
    y.backward(dy);
    runs[threads - 1][0] = y.to_vector<float>();
    runs[threads - 1][1] = xg.grad().to_vector<float>();
  }
  CHECK(runs[0][0] == runs[1][0]);
  CHECK(runs[0][1] == runs[1][1]);
}

TEST_CASE("dropout refuses p outside [0, 1) and integer tensors", "[ops]") {
  Generator gen(1);
  Tensor x = Tensor::zeros({3});
  CHECK_THROWS_WITH(ops::dropout(x, 1.0, gen, true), HasSubstr("'p' is 1"));
  CHECK_THROWS_WITH(ops::dropout(x, -0.1, gen, true), HasSubstr("0 <= p < 1"));
  CHECK_THROWS_AS(ops::dropout(x, std::nan(""), gen, false), Error);
  CHECK_THROWS_WITH(ops::dropout(Tensor::arange(3), 0.5, gen, true),
                    HasSubstr("floating"));
  CHECK(gen.offset() == 0);
}
