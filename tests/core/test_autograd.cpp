// The autograd engine: accumulation, deep graphs, grad mode, reuse errors, gradcheck itself.
#include "catch_compat.h"
#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "ops/ops.h"

using namespace lory;

TEST_CASE("gradients accumulate into leaves across backward calls", "[core][autograd]") {
  Tensor x = Tensor::full({3}, 1.0, DType::f64).set_requires_grad();
  ops::scale(x, 2.0).backward(Tensor::ones({3}, DType::f64));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 2, 2});
  ops::scale(x, 3.0).backward(Tensor::ones({3}, DType::f64));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 5, 5});
  x.zero_grad();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0, 0});
}

TEST_CASE("a tensor used twice receives the sum of both gradients", "[core][autograd]") {
  Tensor x = Tensor::full({2}, 1.0, DType::f64).set_requires_grad();
  Tensor a = ops::scale(x, 2.0);
  Tensor b = ops::scale(a, 5.0);
  Tensor c = ops::scale(a, 7.0);
  // A hand-made op s = b + c (its forward value is irrelevant here; its backward passes dy on).
  Tensor s = record("pair", Tensor::zeros({2}, DType::f64), {b, c},
                    [](const Tensor& dy, const std::vector<bool>&) {
                      return std::vector<Tensor>{dy, dy};
                    });
  s.backward(Tensor::ones({2}, DType::f64));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{24, 24});  // 2*5 + 2*7
}

TEST_CASE("a 10,000-op chain runs backward and is destroyed without deep recursion",
          "[core][autograd]") {
  Tensor x = Tensor::full({4}, 1.0, DType::f64).set_requires_grad();
  Tensor y = x;
  for (int i = 0; i < 10000; ++i) y = ops::scale(y, 1.0001);
  y.backward(Tensor::ones({4}, DType::f64));
  CHECK(x.grad().at(0) == Approx(std::pow(1.0001, 10000)).epsilon(1e-9));
  Tensor z = x;
  for (int i = 0; i < 100000; ++i) z = ops::scale(z, 1.0);  // never backpropagated: just freed
  z = Tensor();
  SUCCEED("destroyed a 100,000-node graph");
}

TEST_CASE("NoGradGuard records nothing; backward twice is a clear error", "[core][autograd]") {
  Tensor x = Tensor::full({2}, 1.0).set_requires_grad();
  {
    NoGradGuard guard;
    Tensor y = ops::scale(x, 2.0);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
  }
  Tensor y = ops::scale(x, 2.0);
  Tensor z = ops::scale(y, 2.0);
  z.backward(Tensor::ones({2}));
  CHECK_THROWS_WITH(z.backward(Tensor::ones({2})),
                    HasSubstr("already used by an earlier backward"));
  Tensor nog = Tensor::full({2}, 1.0);
  CHECK_THROWS_AS(ops::scale(nog, 2.0).backward(Tensor::ones({2})), Error);
}

TEST_CASE("retain_grad keeps a non-leaf gradient", "[core][autograd]") {
  Tensor x = Tensor::full({2}, 1.0, DType::f64).set_requires_grad();
  Tensor y = ops::scale(x, 3.0).retain_grad();
  ops::scale(y, 4.0).backward(Tensor::ones({2}, DType::f64));
  CHECK(y.grad().to_vector<double>() == std::vector<double>{4, 4});
  CHECK(x.grad().to_vector<double>() == std::vector<double>{12, 12});
}

TEST_CASE("saved tensors are released once a node has run", "[core][autograd]") {
  Tensor x = Tensor::full({1000}, 1.0, DType::f64).set_requires_grad();
  Tensor y = ops::scale(x, 2.0);
  y.backward(Tensor::ones({1000}, DType::f64));
  CHECK_FALSE(y.grad_fn()->backward);
}

TEST_CASE("gradcheck passes a correct op and catches a wrong gradient", "[core][grad]") {
  Generator gen(3);
  Tensor x = Tensor::randn({3, 5}, gen, 1.0, DType::f64).set_requires_grad();
  auto good = gradcheck([](const std::vector<Tensor>& in) { return ops::scale(in[0], -1.5); }, {x});
  INFO(good.report());
  CHECK(good.ok);
  CHECK(good.inputs.size() == 1);
  CHECK(good.inputs[0].checked == 15);
  // An op whose backward is deliberately wrong by a factor of 2.
  auto wrong = [](const std::vector<Tensor>& in) {
    Tensor y = ops::scale(in[0].detach(), 3.0);
    return record("wrong", y, {in[0]}, [](const Tensor& dy, const std::vector<bool>&) {
      return std::vector<Tensor>{ops::scale(dy, 6.0)};
    });
  };
  auto bad = gradcheck(wrong, {x});
  CHECK_FALSE(bad.ok);
  CHECK(bad.inputs[0].max_abs_err > 1.0);
  // A zero step divided by zero; negative tolerances passed nothing.
  auto scale = [](const std::vector<Tensor>& in) { return ops::scale(in[0], 2.0); };
  GradcheckOptions zero_step;
  zero_step.eps = 0;
  CHECK_THROWS_WITH(gradcheck(scale, {x}, zero_step), HasSubstr("eps is 0"));
  GradcheckOptions negative;
  negative.atol = -1;
  CHECK_THROWS_WITH(gradcheck(scale, {x}, negative), HasSubstr("expected tolerances >= 0"));
}
