// sum and mean, whole-tensor and per dim: naive loops, gradients, accuracy, thread
// independence, errors.
#include <cmath>

#include "catch_compat.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {

// Reference: sum over dim d of x viewed with the given dims, by explicit index arithmetic.
std::vector<double> naive_sum_dim(const Tensor& x, int d) {
  std::vector<int64_t> dims = x.shape().to_vector();
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= dims[i];
  for (int i = d + 1; i < static_cast<int>(dims.size()); ++i) inner *= dims[i];
  std::vector<double> out(outer * inner, 0.0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < dims[d]; ++k)
      for (int64_t i = 0; i < inner; ++i) out[o * inner + i] += x.at((o * dims[d] + k) * inner + i);
  return out;
}

const std::vector<Shape> kShapes = {{7}, {1}, {3, 7}, {2, 1, 13}, {1, 7, 1}, {2, 3, 5, 7}};

}  // namespace

TEST_CASE("sum and mean over everything match a naive loop", "[ops]") {
  Generator gen(21);
  for (const Shape& s : kShapes) {
    INFO(s.str());
    Tensor x = Tensor::randn(s, gen, 1.0, DType::f64);
    double expect = 0;
    for (int64_t i = 0; i < x.numel(); ++i) expect += x.at(i);
    Tensor total = ops::sum(x), avg = ops::mean(x);
    CHECK(total.rank() == 0);
    CHECK(avg.rank() == 0);
    CHECK(total.item() == Approx(expect).epsilon(1e-12));
    CHECK(avg.item() == Approx(expect / x.numel()).epsilon(1e-12));
  }
  Tensor scalar = Tensor::scalar(4.5, DType::f64);
  CHECK(ops::sum(scalar).item() == 4.5);
  CHECK(ops::sum(Tensor::zeros({0, 3})).item() == 0.0);
  CHECK(std::isnan(ops::mean(Tensor::zeros({0})).item()));
}

TEST_CASE("sum and mean over one dim (any dim, negative, keepdim) match a naive loop", "[ops]") {
  Generator gen(22);
  for (const Shape& s : kShapes) {
    Tensor x = Tensor::randn(s, gen, 1.0, DType::f64);
    for (int d = -s.rank(); d < s.rank(); ++d) {
      int dd = d < 0 ? d + s.rank() : d;
      INFO(s.str() << " dim " << d);
      std::vector<double> expect = naive_sum_dim(x, dd);
      Tensor y = ops::sum(x, d), yk = ops::sum(x, d, true), m = ops::mean(x, d);
      std::vector<int64_t> dims = s.to_vector();
      dims[dd] = 1;
      CHECK(yk.shape() == Shape(dims));
      dims.erase(dims.begin() + dd);
      CHECK(y.shape() == Shape(dims));
      CHECK(ops::mean(x, d, true).shape() == yk.shape());
      for (size_t i = 0; i < expect.size(); ++i) {
        CHECK(y.at(i) == Approx(expect[i]).epsilon(1e-12).margin(1e-12));
        CHECK(yk.at(i) == y.at(i));
        CHECK(m.at(i) == Approx(expect[i] / s[dd]).epsilon(1e-12).margin(1e-12));
      }
    }
  }
  // Wide rows (more than one column chunk) and long columns (more than one block).
  Tensor wide = Tensor::randn({3, 600}, gen, 1.0, DType::f64);
  Tensor tall = Tensor::randn({5000, 3}, gen, 1.0, DType::f64);
  std::vector<double> ew = naive_sum_dim(wide, 0), et = naive_sum_dim(tall, 0);
  Tensor yw = ops::sum(wide, 0), yt = ops::sum(tall, -2);
  for (size_t i = 0; i < ew.size(); ++i) CHECK(yw.at(i) == Approx(ew[i]).epsilon(1e-12));
  for (size_t i = 0; i < et.size(); ++i) CHECK(yt.at(i) == Approx(et[i]).epsilon(1e-12));
}

TEST_CASE("f32 sums accumulate in double", "[ops]") {
  // n copies of 1 + 2^-20: a float accumulator drops the 2^-20 parts once the running sum passes
  // 16 (its ulp there is 2^-19); double accumulation rounds only the final result.
  const int64_t n = 5 * 4096 + 7;
  const double v = 1.0 + std::ldexp(1.0, -20);
  const float expect = static_cast<float>(n * v);
  CHECK(ops::sum(Tensor::full({n}, v)).item() == expect);
  CHECK(ops::mean(Tensor::full({n}, v)).item() == static_cast<float>(v));
  CHECK(ops::sum(Tensor::full({n, 1}, v), 0).item() == expect);
  Tensor cols = ops::sum(Tensor::full({n, 3}, v), 0);
  for (int64_t i = 0; i < 3; ++i) CHECK(cols.at(i) == expect);
}

TEST_CASE("sum and mean pass gradcheck", "[ops][grad]") {
  Generator gen(23);
  for (const Shape& s : kShapes) {
    Tensor x = Tensor::randn(s, gen, 1.0, DType::f64).set_requires_grad();
    auto whole_sum = gradcheck([](const std::vector<Tensor>& in) { return ops::sum(in[0]); }, {x});
    auto whole_mean =
        gradcheck([](const std::vector<Tensor>& in) { return ops::mean(in[0]); }, {x});
    INFO(s.str());
    CHECK(whole_sum.ok);
    CHECK(whole_mean.ok);
    for (int d = -s.rank(); d < s.rank(); ++d) {
      for (bool keep : {false, true}) {
        INFO("dim " << d << " keepdim " << keep);
        auto rs =
            gradcheck([&](const std::vector<Tensor>& in) { return ops::sum(in[0], d, keep); }, {x});
        auto rm = gradcheck(
            [&](const std::vector<Tensor>& in) { return ops::mean(in[0], d, keep); }, {x});
        INFO(rs.report() << rm.report());
        CHECK(rs.ok);
        CHECK(rm.ok);
      }
    }
  }
}

TEST_CASE("sums are bitwise identical for 1 and 2 threads", "[ops]") {
  // f64 matters most here: f32 inputs summed in double are almost always exact, whatever the
  // order, so only f64 sums would expose an order that depends on the thread count.
  for (DType dtype : {DType::f64, DType::f32}) {
    INFO(dtype_name(dtype));
    Generator gen(24);
    Tensor x = Tensor::randn({100003}, gen, 1.0, dtype);
    Tensor m = Tensor::randn({29, 3449}, gen, 1.0, dtype);  // 100021 elements
    auto run = [&] {
      std::vector<std::vector<double>> out;
      Tensor xg = x.clone().set_requires_grad();
      Tensor y = ops::mean(xg);
      y.backward();
      out.push_back(y.to_vector<double>());
      out.push_back(xg.grad().to_vector<double>());
      out.push_back(ops::sum(x).to_vector<double>());
      out.push_back(ops::sum(m, 0).to_vector<double>());
      out.push_back(ops::sum(m, 1).to_vector<double>());
      out.push_back(ops::mean(m.view({100021}), 0).to_vector<double>());
      return out;
    };
    set_num_threads(1);
    auto one = run();
    set_num_threads(2);
    auto two = run();
    for (size_t k = 0; k < one.size(); ++k) {
      INFO("result " << k);
      CHECK(one[k] == two[k]);
    }
  }
}

TEST_CASE("reductions refuse bad dims and integer tensors", "[ops]") {
  Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH(ops::sum(x, 2),
                    HasSubstr("dim 2") && HasSubstr("(2, 3)"));
  CHECK_THROWS_WITH(ops::mean(x, -3), HasSubstr("dim -3"));
  CHECK_THROWS_WITH(ops::sum(Tensor::scalar(1.0), 0), HasSubstr("out of range"));
  CHECK_THROWS_WITH(ops::sum(Tensor::arange(4)), HasSubstr("floating"));
  CHECK_THROWS_WITH(ops::mean(Tensor::arange(4), 0), HasSubstr("floating"));
}
