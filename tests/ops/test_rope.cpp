// rope: naive reference (rotate_half pairing), KV-cache offsets, relative positions, gradients,
// thread invariance, bad inputs.
#include "nn_test_util.h"

using namespace lory;
using namespace lory::testing;

namespace {
// The rotate_half formula, element by element, in double.
std::vector<double> naive_rope(const Tensor& x, int64_t pos_offset, double theta) {
  std::vector<double> xv = x.to_vector<double>(), y(xv.size());
  int64_t L = x.size(2), Dh = x.size(3), half = Dh / 2;
  for (int64_t row = 0; row < x.numel() / Dh; ++row) {
    double p = static_cast<double>(pos_offset + row % L);
    for (int64_t i = 0; i < half; ++i) {
      double a = p * std::pow(theta, -2.0 * i / Dh), c = std::cos(a), s = std::sin(a);
      double x1 = xv[row * Dh + i], x2 = xv[row * Dh + i + half];
      y[row * Dh + i] = x1 * c - x2 * s;
      y[row * Dh + i + half] = x2 * c + x1 * s;
    }
  }
  return y;
}

// Rows [l0, L) of x (B, H, L, Dh) as a new tensor.
Tensor tail_rows(const Tensor& x, int64_t l0) {
  int64_t BH = x.size(0) * x.size(1), L = x.size(2), Dh = x.size(3);
  std::vector<double> xv = x.to_vector<double>(), out;
  for (int64_t bh = 0; bh < BH; ++bh)
    out.insert(out.end(), xv.begin() + (bh * L + l0) * Dh, xv.begin() + (bh * L + L) * Dh);
  return Tensor::from_vector<double>(out, {x.size(0), x.size(1), L - l0, Dh});
}
}  // namespace

TEST_CASE("rope matches the rotate_half formula", "[ops]") {
  Generator gen(1);
  Tensor x = Tensor::randn({2, 3, 5, 8}, gen, 1.0, DType::f64);
  CHECK(max_abs_diff(ops::rope(x), naive_rope(x, 0, 10000.0)) < 1e-14);
  CHECK(max_abs_diff(ops::rope(x, 1000, 500.0), naive_rope(x, 1000, 500.0)) < 1e-12);
  CHECK(max_abs_diff(ops::rope(x.to(DType::f32), 7), naive_rope(x, 7, 10000.0)) < 1e-5);
  // Position 0 is the identity.
  Tensor x0 = Tensor::randn({1, 2, 1, 6}, gen, 1.0, DType::f64);
  CHECK(ops::rope(x0).to_vector<double>() == x0.to_vector<double>());
}

TEST_CASE("rope with pos_offset equals the tail of a full-sequence rope (KV cache)", "[ops]") {
  Generator gen(2);
  Tensor x = Tensor::randn({2, 2, 9, 6}, gen, 1.0, DType::f64);
  Tensor full = ops::rope(x);
  Tensor tail = ops::rope(tail_rows(x, 4), 4);
  // Same angles, same arithmetic: the cached and the full computation agree exactly.
  CHECK(tail.to_vector<double>() == tail_rows(full, 4).to_vector<double>());
}

TEST_CASE("rope makes q·k depend only on the relative position", "[ops]") {
  Generator gen(3);
  Tensor q = Tensor::randn({1, 1, 1, 8}, gen, 1.0, DType::f64);
  Tensor k = Tensor::randn({1, 1, 1, 8}, gen, 1.0, DType::f64);
  auto dot_at = [&](int64_t m, int64_t n) {
    std::vector<double> a = ops::rope(q, m).to_vector<double>(),
                        b = ops::rope(k, n).to_vector<double>();
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
  };
  CHECK(dot_at(7, 3) == Approx(dot_at(107, 103)).epsilon(1e-10));
  CHECK(dot_at(2, 9) == Approx(dot_at(2002, 2009)).epsilon(1e-10));
}

TEST_CASE("rope gradient passes gradcheck", "[ops][grad]") {
  Generator gen(4);
  for (Shape s : {Shape{1, 1, 1, 2}, Shape{2, 3, 5, 6}, Shape{1, 2, 7, 10}}) {
    INFO("shape " << s.str());
    require_gradcheck([](const std::vector<Tensor>& in) { return ops::rope(in[0], 13, 100.0); },
                      {leaf64(s, gen)});
  }
}

TEST_CASE("rope is bitwise identical with 1 and 2 threads", "[ops]") {
  Generator gen(5);
  Tensor x = Tensor::randn({2, 4, 67, 40}, gen);  // above the fork threshold
  Tensor dy = Tensor::randn({2, 4, 67, 40}, gen);
  require_same_bits_1_vs_2_threads([&] {
    Tensor xl = x.clone().set_requires_grad();
    Tensor y = ops::rope(xl, 5);
    y.backward(dy);
    return std::vector<Tensor>{y, xl.grad()};
  });
}

TEST_CASE("rope rejects bad inputs clearly", "[ops]") {
  CHECK_THROWS_WITH(ops::rope(Tensor::zeros({1, 2, 3, 5})),
                    HasSubstr("shape (1, 2, 3, 5)") &&
                        HasSubstr("even, positive head width"));
  CHECK_THROWS_WITH(ops::rope(Tensor::zeros({1, 2, 3, 0})),
                    HasSubstr("even, positive head width"));
  CHECK_THROWS_WITH(ops::rope(Tensor::zeros({2, 3, 4})),
                    HasSubstr("expected rank 4"));
  CHECK_THROWS_WITH(ops::rope(Tensor::zeros({1, 1, 2, 4}), -1),
                    HasSubstr("pos_offset is -1"));
  CHECK_THROWS_WITH(ops::rope(Tensor::zeros({1, 1, 2, 4}), 0, 0.0),
                    HasSubstr("theta is 0"));
}
