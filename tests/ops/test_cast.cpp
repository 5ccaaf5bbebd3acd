// cast: values against the host conversions, gradients (f32 <-> f64), thread invariance, errors.
#include "nn_test_util.h"

using namespace lory;
using namespace lory::testing;

TEST_CASE("cast converts values like the host conversions", "[ops]") {
  Generator gen(1);
  for (Shape s : {Shape{3, 7}, Shape{1}, Shape{2, 1, 130}}) {
    INFO("shape " << s.str());
    Tensor x = Tensor::randn(s, gen, 3.0, DType::f64);
    std::vector<double> xv = x.to_vector<double>();
    Tensor y32 = ops::cast(x, DType::f32);
    CHECK(y32.dtype() == DType::f32);
    CHECK(y32.shape() == s);
    std::vector<double> want32, want16;
    for (double v : xv) {
      want32.push_back(static_cast<float>(v));
      want16.push_back(bf16_to_float(float_to_bf16(static_cast<float>(v))));
    }
    CHECK(max_abs_diff(y32, want32) == 0.0);
    Tensor y16 = ops::cast(y32, DType::bf16);
    CHECK(y16.dtype() == DType::bf16);
    CHECK(max_abs_diff(y16, want16) == 0.0);
    CHECK(max_abs_diff(ops::cast(y16, DType::f32), want16) == 0.0);  // widening is exact
    CHECK(max_abs_diff(ops::cast(y32, DType::f64), want32) == 0.0);
  }
  Tensor x = Tensor::ones({2});
  CHECK(ops::cast(x, DType::f32).is_same(x));  // same dtype: the tensor itself
}

TEST_CASE("cast gradients pass gradcheck through f32 and back", "[ops][grad]") {
  // Inputs on a 1/64 grid and a finite-difference step of 2^-10 keep every value exactly
  // representable in f32, so the round trip through f32 is exact and the check measures the
  // gradient (identity) rather than the rounding.
  GradcheckOptions opt;
  opt.eps = 1.0 / 1024;
  auto fn = [](const std::vector<Tensor>& in) {
    Tensor narrow = ops::cast(in[0], DType::f32);                         // f64 -> f32
    return ops::cast(ops::mul(narrow, ops::cast(in[1], DType::f32)), DType::f64);  // f32 -> f64
  };
  Generator gen(2);
  for (Shape s : {Shape{3, 7}, Shape{1, 1}, Shape{2, 1, 9}}) {
    INFO("shape " << s.str());
    auto grid = [&] {
      std::vector<double> v(static_cast<size_t>(s.numel()));
      for (auto& e : v) e = (static_cast<double>(gen.below(257)) - 128.0) / 64.0;
      return Tensor::from_vector(v, s).set_requires_grad();
    };
    GradcheckResult r = gradcheck(fn, {grid(), grid()}, opt);
    INFO(r.report());
    REQUIRE(r.ok);
  }
  // The gradient arrives in the input's dtype.
  Tensor x = Tensor::randn({4}, gen, 1.0, DType::f64).set_requires_grad();
  ops::sum(ops::cast(x, DType::f32)).backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == DType::f64);
  CHECK(max_abs_diff(x.grad(), std::vector<double>(4, 1.0)) == 0.0);
}

TEST_CASE("cast is bitwise identical with 1 and 2 threads", "[ops]") {
  Generator gen(3);
  Tensor x = Tensor::randn({97, 1031}, gen, 5.0);  // forked: > 2^15 elements
  Tensor dy = Tensor::randn({97, 1031}, gen, 1.0, DType::f64);
  require_same_bits_1_vs_2_threads([&] {
    Tensor xl = x.clone().set_requires_grad();
    Tensor y = ops::cast(xl, DType::f64);
    y.backward(dy);
    return std::vector<Tensor>{y, xl.grad(), ops::cast(x, DType::bf16).to(DType::f32)};
  });
}

TEST_CASE("cast rejects bad inputs clearly", "[ops]") {
  CHECK_THROWS_WITH(ops::cast(Tensor::zeros({2}, DType::i32), DType::f32),
                    HasSubstr("cast: argument 'x'") && HasSubstr("expected a floating dtype"));
  CHECK_THROWS_WITH(ops::cast(Tensor::zeros({2}), DType::i32),
                    HasSubstr("target dtype is i32") && HasSubstr("expected f32, f64 or bf16"));
}
