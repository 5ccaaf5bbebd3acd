// Element-wise ops, broadcasting, scale_rows, swiglu, reductions and dropout on the GPU against
// the CPU, at sizes that take many blocks and grid-stride iterations (1000 x 1531, odd sizes,
// broadcasts from either side). fp32: NMSE <= 1e-7. bf16: NMSE <= 1e-4, with the CPU given the
// same bf16-representable inputs and a positive output gradient, so the bound measures the GPU's
// bf16 rounding of results (about 2^-9 relative each) and not the quantisation of random inputs
// or intermediate products, which a sum of a million terms of either sign would amplify without
// bound (its error scales with the sum of |terms|, its value may be near 0). Skipped without a
// GPU.
#include <cstdio>
#include <functional>

#include "core/precision.h"
#include "ops/ops.h"
#include "parity.h"

using namespace lory;

namespace {

constexpr double kBoundF32 = 1e-7;
constexpr double kBoundBF16 = 1e-4;

using MakeInputs = std::function<std::vector<Tensor>(Generator&)>;

Tensor normal(Generator& g, const Shape& s, double std = 1.0) {
  return Tensor::randn(s, g, std).set_requires_grad();
}
Tensor positive(Generator& g, const Shape& s) {
  return Tensor::uniform(s, g, 0.5, 2.0).set_requires_grad();
}

// Rounds a CPU f32 tensor to dt's precision (kept in f32).
Tensor rounded(const Tensor& t, DType dt) { return t.detach().to(dt).to(DType::f32); }

// Like test::run_parity, with inputs rounded to dt first and a positive output gradient in [0.5,
// 2], also rounded (see the top).
test::ParityResult run_rounded(const TensorFn& fn, const std::vector<Tensor>& inputs, DType dt) {
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : inputs) {
    Tensor c = rounded(t, dt);
    Tensor g = c.to(Device::cuda).to(dt);
    if (t.requires_grad()) {
      c.set_requires_grad();
      g.set_requires_grad();
    }
    cpu.push_back(c);
    gpu.push_back(g);
  }
  Tensor out_cpu = fn(cpu), out_gpu = fn(gpu);
  REQUIRE(out_gpu.device() == Device::cuda);
  REQUIRE(out_gpu.shape() == out_cpu.shape());
  test::ParityResult r;
  r.output = test::nmse(out_gpu, out_cpu);
  Generator gen(7);
  Tensor dy = rounded(Tensor::uniform(out_cpu.shape(), gen, 0.5, 2.0), dt);
  out_cpu.backward(dy);
  out_gpu.backward(dy.to(Device::cuda).to(dt));
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (!cpu[i].requires_grad()) continue;
    REQUIRE(cpu[i].grad().defined());
    REQUIRE(gpu[i].grad().defined());
    r.gradients.push_back(test::nmse(gpu[i].grad(), cpu[i].grad()));
  }
  return r;
}

// fp32 through test::run_parity, then bf16 through run_rounded; fresh inputs for each (backward
// accumulates into the inputs' gradients).
void check_parity(const std::string& what, const TensorFn& fn, const MakeInputs& make) {
  test::require_gpu();
  Tf32Guard exact(false);
  {
    Generator gen(1234);
    test::ParityResult r = test::run_parity(fn, make(gen));
    std::printf("%-44s f32   output %.1e  worst gradient %.1e\n", what.c_str(), r.output, r.worst());
    INFO(what << " f32");
    CHECK(r.output <= kBoundF32);
    for (double g : r.gradients) CHECK(g <= kBoundF32);
  }
  {
    Generator gen(1234);
    test::ParityResult r = run_rounded(fn, make(gen), DType::bf16);
    std::printf("%-44s bf16  output %.1e  worst gradient %.1e\n", what.c_str(), r.output, r.worst());
    INFO(what << " bf16");
    CHECK(r.output <= kBoundBF16);
    for (double g : r.gradients) CHECK(g <= kBoundBF16);
  }
}

const Shape kBig{1000, 1531};

}  // namespace

TEST_CASE("unary ops at 1000 x 1531: GPU matches CPU", "[cuda]") {
  using Unary = Tensor (*)(const Tensor&);
  struct Case {
    const char* name;
    Unary op;
    bool positive_input;
  };
  for (Case c : {Case{"neg", ops::neg, false}, Case{"exp", ops::exp, false},
                 Case{"log", ops::log, true}, Case{"sqrt", ops::sqrt, true},
                 Case{"square", ops::square, false}}) {
    Unary op = c.op;
    bool pos = c.positive_input;
    check_parity(c.name, [op](const std::vector<Tensor>& x) { return op(x[0]); },
                 [pos](Generator& g) {
                   return std::vector<Tensor>{pos ? positive(g, kBig) : normal(g, kBig)};
                 });
  }
}

TEST_CASE("silu and gelu at 1000 x 1531: GPU matches CPU", "[cuda]") {
  auto make = [](Generator& g) { return std::vector<Tensor>{normal(g, kBig, 3.0)}; };
  check_parity("silu", [](const std::vector<Tensor>& x) { return ops::silu(x[0]); }, make);
  check_parity("gelu", [](const std::vector<Tensor>& x) { return ops::gelu(x[0]); }, make);
}

TEST_CASE("add, sub, mul, div with every broadcast: GPU matches CPU", "[cuda]") {
  using Binary = Tensor (*)(const Tensor&, const Tensor&);
  struct Op {
    const char* name;
    Binary fn;
  };
  struct Shapes {
    const char* name;
    Shape a, b;
    bool one_element;  // then positive operands: see the top
  };
  const Shape scalar{};
  for (Op op : {Op{"add", ops::add}, Op{"sub", ops::sub}, Op{"mul", ops::mul},
                Op{"div", ops::div}}) {
    for (const Shapes& s :
         {Shapes{"(1000, 1531) . (1000, 1531)", kBig, kBig, false},
          Shapes{"(1000, 1531) . (1531)", kBig, Shape{1531}, false},
          Shapes{"(1531) . (1000, 1531)", Shape{1531}, kBig, false},
          Shapes{"(8, 125, 153) . (125, 153)", Shape{8, 125, 153}, Shape{125, 153}, false},
          Shapes{"(125, 153) . (8, 125, 153)", Shape{125, 153}, Shape{8, 125, 153}, false},
          Shapes{"(1000, 1531) . ()", kBig, scalar, true},
          Shapes{"() . (1000, 1531)", scalar, kBig, true},
          Shapes{"(1) . (999, 7)", Shape{1}, Shape{999, 7}, true}}) {
      Binary fn = op.fn;
      bool is_div = fn == ops::div;
      Shape sa = s.a, sb = s.b;
      bool pos_a = s.one_element, pos_b = s.one_element || is_div;  // div: b away from the pole
      check_parity(std::string(op.name) + " " + s.name,
                   [fn](const std::vector<Tensor>& x) { return fn(x[0], x[1]); },
                   [sa, sb, pos_a, pos_b](Generator& g) {
                     return std::vector<Tensor>{pos_a ? positive(g, sa) : normal(g, sa),
                                                pos_b ? positive(g, sb) : normal(g, sb)};
                   });
    }
  }
}

TEST_CASE("add_scalar, mul_scalar, scale: GPU matches CPU", "[cuda]") {
  auto make = [](Generator& g) { return std::vector<Tensor>{normal(g, kBig)}; };
  check_parity("add_scalar 0.375", [](const std::vector<Tensor>& x) { return ops::add_scalar(x[0], 0.375); },
               make);
  check_parity("mul_scalar -1.5", [](const std::vector<Tensor>& x) { return ops::mul_scalar(x[0], -1.5); },
               make);
  check_parity("scale 0.1", [](const std::vector<Tensor>& x) { return ops::scale(x[0], 0.1); }, make);
}

TEST_CASE("scale_rows and swiglu: GPU matches CPU", "[cuda]") {
  for (Shape xs : {kBig, Shape{4099, 7}, Shape{3, 100003}}) {
    int64_t M = xs[0];
    check_parity("scale_rows " + xs.str(),
                 [](const std::vector<Tensor>& x) { return ops::scale_rows(x[0], x[1]); },
                 [xs, M](Generator& g) {
                   return std::vector<Tensor>{positive(g, xs), normal(g, Shape{M})};
                 });
  }
  check_parity("swiglu (1000, 1531)",
               [](const std::vector<Tensor>& x) { return ops::swiglu(x[0], x[1]); },
               [](Generator& g) { return std::vector<Tensor>{normal(g, kBig, 2.0), normal(g, kBig)}; });
}

TEST_CASE("sum and mean, whole tensor and over each dim: GPU matches CPU", "[cuda]") {
  // Positive inputs keep the sums away from zero (the NMSE of a sum near 0 measures nothing).
  struct Case {
    const char* name;
    Shape shape;
    std::function<Tensor(const Tensor&)> fn;
  };
  std::vector<Case> cases = {
      {"sum all (1000, 1531)", kBig, [](const Tensor& x) { return ops::sum(x); }},
      {"mean all (1000, 1531)", kBig, [](const Tensor& x) { return ops::mean(x); }},
      {"sum all (5)", Shape{5}, [](const Tensor& x) { return ops::sum(x); }},
      {"sum dim 0 (1000, 1531)", kBig, [](const Tensor& x) { return ops::sum(x, 0); }},
      {"sum dim 1 (1000, 1531)", kBig, [](const Tensor& x) { return ops::sum(x, 1); }},
      {"mean dim -1 keepdim (1000, 1531)", kBig, [](const Tensor& x) { return ops::mean(x, -1, true); }},
      {"mean dim 1 (7, 3001, 5)", Shape{7, 3001, 5}, [](const Tensor& x) { return ops::mean(x, 1); }},
      {"sum dim 0 (100003, 3)", Shape{100003, 3}, [](const Tensor& x) { return ops::sum(x, 0); }},
      {"sum dim 1 (3, 100003)", Shape{3, 100003}, [](const Tensor& x) { return ops::sum(x, 1); }},
      {"sum dim 1 (4, 1, 6)", Shape{4, 1, 6}, [](const Tensor& x) { return ops::sum(x, 1); }},
  };
  for (const Case& c : cases) {
    auto fn = c.fn;
    Shape s = c.shape;
    check_parity(c.name, [fn](const std::vector<Tensor>& x) { return fn(x[0]); },
                 [s](Generator& g) { return std::vector<Tensor>{positive(g, s)}; });
  }
}

TEST_CASE("reductions and broadcast gradients are bitwise reproducible on the GPU", "[cuda]") {
  test::require_gpu();
  Generator gen(5);
  Tensor x = Tensor::randn(kBig, gen).to(Device::cuda);
  CHECK(ops::sum(x, 0).to_vector<float>() == ops::sum(x, 0).to_vector<float>());
  CHECK(ops::sum(x).to_vector<float>() == ops::sum(x).to_vector<float>());
  auto bias_grad = [&] {
    Tensor b = Tensor::zeros({1531}, DType::f32, Device::cuda).set_requires_grad();
    ops::sum(ops::mul(ops::add(x, b), x)).backward();
    return b.grad().to_vector<float>();
  };
  CHECK(bias_grad() == bias_grad());
}

TEST_CASE("dropout draws the same mask on the GPU as on the CPU", "[cuda]") {
  test::require_gpu();
  Generator g0(11);
  Tensor x = Tensor::randn(kBig, g0).set_requires_grad();
  Tensor xg = x.detach().to(Device::cuda).set_requires_grad();
  Generator cpu_gen(42, 1000), gpu_gen(42, 1000);
  Tensor y = ops::dropout(x, 0.3, cpu_gen, true);
  Tensor yg = ops::dropout(xg, 0.3, gpu_gen, true);
  CHECK(cpu_gen.offset() == gpu_gen.offset());
  // fp32: the same mask and the same product in float: bitwise equal.
  CHECK(yg.to_vector<float>() == y.to_vector<float>());
  Generator gd(3);
  Tensor dy = Tensor::randn(kBig, gd);
  y.backward(dy);
  yg.backward(dy.to(Device::cuda));
  CHECK(xg.grad().to_vector<float>() == x.grad().to_vector<float>());

  // bf16: the mask (which elements are zero) is the CPU's.
  Generator bgen(42, 1000);
  Tensor xb = x.detach().to(DType::bf16).to(Device::cuda);
  std::vector<float> yb = ops::dropout(xb, 0.3, bgen, true).to_vector<float>();
  std::vector<float> yc = y.to_vector<float>(), xc = x.to_vector<float>();
  int64_t mismatches = 0, dropped = 0;
  for (size_t i = 0; i < yc.size(); ++i) {
    if (xc[i] == 0) continue;
    mismatches += (yb[i] == 0) != (yc[i] == 0);
    dropped += yc[i] == 0;
  }
  CHECK(mismatches == 0);
  CHECK(dropped > 0.28 * static_cast<double>(yc.size()));
  CHECK(dropped < 0.32 * static_cast<double>(yc.size()));

  // Not training: x itself, generator untouched.
  Generator idle(42, 7);
  CHECK(ops::dropout(xg, 0.3, idle, false).raw_data() == xg.raw_data());
  CHECK(idle.offset() == 7);
}

TEST_CASE("mixing CPU and GPU operands is a clear error", "[cuda]") {
  test::require_gpu();
  Tensor c = Tensor::ones({4, 3});
  Tensor g = c.to(Device::cuda);
  CHECK_THROWS_WITH(ops::add(g, c), HasSubstr("add: 'a' is on cuda but 'b' is on cpu"));
  CHECK_THROWS_WITH(ops::swiglu(c, g), HasSubstr("expected the same device"));
  CHECK_THROWS_WITH(ops::scale_rows(g, Tensor::ones({4})), HasSubstr("expected the same device"));
}
