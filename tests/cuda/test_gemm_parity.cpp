// matmul, linear and lory_ffn on the GPU (cuBLAS) against the CPU: outputs and every input
// gradient, at awkward shapes, in all transpose and batch forms, with a partial last segment and
// several merge chunks. Bounds (NMSE, see parity.h):
//   fp32 without TF32: 1e-7 (the op-parity bound: only the order of sums differs)
//   TF32: 1e-5 (inputs rounded to 10-bit mantissas, u = 2^-11: per-product NMSE ~u²/3 ≈ 1e-7)
//   bf16 inputs and outputs: matmul 1e-4, lory_ffn 1e-3 (u = 2^-8: each rounding adds ~u²/3 ≈
//   5e-6; lory_ffn chains about ten of them: merged weights, a, g, h, y and their gradients)
// Skipped without a GPU.
#include <cmath>
#include <cstdio>
#include <string>

#include "core/precision.h"
#include "ops/cuda/lory_ffn.h"
#include "ops/linear.h"
#include "ops/lory_ffn.h"
#include "ops/matmul.h"
#include "parity.h"

using namespace lory;

namespace {

struct Mnk {
  int64_t M, N, K;
};
const Mnk kShapes[] = {{1, 1, 1}, {33, 65, 17}, {7, 1, 5}, {1, 40, 3}};

Tensor input(const std::vector<int64_t>& shape, Generator& gen, double std = 1.0) {
  return Tensor::randn(Shape(shape), gen, std).set_requires_grad();
}

std::vector<int64_t> with_batch(std::vector<int64_t> batch, int64_t r, int64_t c) {
  batch.push_back(r);
  batch.push_back(c);
  return batch;
}

// Every matmul form at every shape and flag combination, checked against `bound`.
void check_matmul_forms(DType dt, double bound) {
  Generator gen(11);
  for (const Mnk& s : kShapes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        const std::vector<int64_t> a2 = ta ? std::vector<int64_t>{s.K, s.M}
                                           : std::vector<int64_t>{s.M, s.K};
        const std::vector<int64_t> b2 = tb ? std::vector<int64_t>{s.N, s.K}
                                           : std::vector<int64_t>{s.K, s.N};
        auto fn = [ta, tb](const std::vector<Tensor>& x) {
          return ops::matmul(x[0], x[1], ta != 0, tb != 0);
        };
        struct Form {
          const char* name;
          std::vector<int64_t> a, b;
        };
        std::vector<Form> forms = {
            {"2-D", a2, b2},
            {"batched (3)", with_batch({3}, a2[0], a2[1]), with_batch({3}, b2[0], b2[1])},
            {"batched (2,3)", with_batch({2, 3}, a2[0], a2[1]), with_batch({2, 3}, b2[0], b2[1])},
        };
        if (!ta) forms.push_back({"broadcast (2,3)", with_batch({2, 3}, s.M, s.K), b2});
        for (const Form& f : forms) {
          INFO("matmul " << f.name << " M=" << s.M << " N=" << s.N << " K=" << s.K
                         << " trans_a=" << ta << " trans_b=" << tb << " " << dtype_name(dt));
          test::ParityResult r =
              test::run_parity(fn, {input(f.a, gen), input(f.b, gen)}, 7, dt);
          CHECK(r.output <= bound);
          for (double g : r.gradients) CHECK(g <= bound);
        }
      }
}

void check_linear(DType dt, double bound) {
  Generator gen(12);
  auto fn = [](const std::vector<Tensor>& x) { return ops::linear(x[0], x[1]); };
  for (const std::vector<int64_t>& xs :
       {std::vector<int64_t>{33}, {5, 33}, {2, 3, 33}, {1, 1, 33}}) {
    INFO("linear x rank " << xs.size() << " " << dtype_name(dt));
    test::ParityResult r = test::run_parity(fn, {input(xs, gen), input({33, 17}, gen)}, 7, dt);
    CHECK(r.output <= bound);
    for (double g : r.gradients) CHECK(g <= bound);
  }
}

struct FfnShape {
  const char* name;
  int64_t B, L, D, F, E, T;
};
const FfnShape kFfnShapes[] = {
    {"partial last segment", 2, 200, 64, 96, 4, 64},    // N = 4, last segment 8 rows
    {"T divides L", 3, 128, 32, 48, 3, 32},             // one run across all sequences
    {"T > L (one partial segment)", 3, 5, 8, 12, 2, 16},
    {"cpu-small-like", 8, 256, 256, 704, 8, 64},
};

test::ParityResult ffn_parity(const FfnShape& s, DType dt, uint64_t seed) {
  Generator gen(seed);
  const int64_t N = (s.L + s.T - 1) / s.T;
  // Route rows in [0, 1] like router probabilities; weights scaled like an initialised FFN.
  Tensor route = Tensor::uniform({s.B, N, s.E}, gen, 0.0, 1.0).set_requires_grad();
  std::vector<Tensor> in = {input({s.B, s.L, s.D}, gen), route,
                            input({s.E, s.D, s.F}, gen, 1.0 / std::sqrt(double(s.D))),
                            input({s.E, s.D, s.F}, gen, 1.0 / std::sqrt(double(s.D))),
                            input({s.E, s.F, s.D}, gen, 1.0 / std::sqrt(double(s.F)))};
  const int64_t T = s.T;
  auto fn = [T](const std::vector<Tensor>& x) {
    return ops::lory_ffn(x[0], x[1], x[2], x[3], x[4], T);
  };
  return test::run_parity(fn, in, seed + 1, dt);
}

void check_ffn(const FfnShape& s, DType dt, double bound) {
  INFO("lory_ffn " << s.name << " B=" << s.B << " L=" << s.L << " D=" << s.D << " F=" << s.F
                   << " E=" << s.E << " T=" << s.T << " " << dtype_name(dt));
  test::ParityResult r = ffn_parity(s, dt, 21);
  std::printf("lory_ffn %-30s %-5s output %.1e  worst gradient %.1e\n", s.name, dtype_name(dt),
              r.output, r.worst());
  CHECK(r.output <= bound);
  REQUIRE(r.gradients.size() == 5);
  for (double g : r.gradients) CHECK(g <= bound);
}

}  // namespace

TEST_CASE("matmul and linear on the GPU: fp32 matches the CPU", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  check_matmul_forms(DType::f32, 1e-7);
  check_linear(DType::f32, 1e-7);
}

TEST_CASE("matmul and linear on the GPU: TF32 and bf16 within their bounds", "[cuda]") {
  test::require_gpu();
  {
    Tf32Guard fast(true);
    check_matmul_forms(DType::f32, 1e-5);
    check_linear(DType::f32, 1e-5);
  }
  Tf32Guard exact(false);
  check_matmul_forms(DType::bf16, 1e-4);
  check_linear(DType::bf16, 1e-4);
}

TEST_CASE("matmul on the GPU: a larger GEMM and an empty inner dimension", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  Generator gen(13);
  auto fn = [](const std::vector<Tensor>& x) { return ops::matmul(x[0], x[1], false, true); };
  test::ParityResult r =
      test::run_parity(fn, {input({4, 300, 257}, gen), input({4, 129, 257}, gen)});
  CHECK(r.output <= 1e-7);
  for (double g : r.gradients) CHECK(g <= 1e-7);
  Tensor a = Tensor::zeros({3, 0}, DType::f32, Device::cuda);
  Tensor b = Tensor::zeros({0, 4}, DType::f32, Device::cuda);
  Tensor c = ops::matmul(a, b);
  REQUIRE(c.shape() == Shape({3, 4}));
  for (double v : c.to_vector<double>()) CHECK(v == 0.0);
}

TEST_CASE("matmul and lory_ffn on the GPU: mixed devices are refused", "[cuda]") {
  test::require_gpu();
  Tensor a = Tensor::zeros({2, 3}, DType::f32, Device::cuda), b = Tensor::zeros({3, 4});
  CHECK_THROWS_WITH(ops::matmul(a, b), HasSubstr("matmul"));
  Tensor x = Tensor::zeros({1, 4, 2}, DType::f32, Device::cuda);
  Tensor route = Tensor::zeros({1, 2, 3}, DType::f32, Device::cuda);
  Tensor w = Tensor::zeros({3, 2, 5}), w2 = Tensor::zeros({3, 5, 2});
  CHECK_THROWS_WITH(ops::lory_ffn(x, route, w, w, w2, 2), HasSubstr("lory_ffn"));
}

TEST_CASE("lory_ffn on the GPU: fp32 matches the CPU (one chunk and many)", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  for (const FfnShape& s : kFfnShapes) check_ffn(s, DType::f32, 1e-7);
  // Budgets of a few segments' merged weights, so chunks start mid-sequence and dW and droute are
  // assembled across chunks: 8 segments in chunks of 3, 3, 2; then 12 segments in chunks of 6.
  auto budget = [](const FfnShape& s, int64_t segments) {
    return segments * 3 * s.D * s.F * int64_t(sizeof(float));
  };
  ops::cuda::lory_ffn_set_chunk_bytes(budget(kFfnShapes[0], 3));
  check_ffn(kFfnShapes[0], DType::f32, 1e-7);
  ops::cuda::lory_ffn_set_chunk_bytes(budget(kFfnShapes[1], 7));
  check_ffn(kFfnShapes[1], DType::f32, 1e-7);
  ops::cuda::lory_ffn_set_chunk_bytes(int64_t{1} << 30);
}

TEST_CASE("lory_ffn on the GPU: TF32 and bf16 within their bounds", "[cuda]") {
  test::require_gpu();
  for (int i = 0; i < 2; ++i) {
    Tf32Guard fast(true);
    check_ffn(kFfnShapes[i], DType::f32, 1e-5);
  }
  Tf32Guard exact(false);
  for (int i = 0; i < 2; ++i) check_ffn(kFfnShapes[i], DType::bf16, 1e-3);
  check_ffn(kFfnShapes[3], DType::bf16, 1e-3);
}

TEST_CASE("lory_ffn on the GPU: repeated calls give the same bits", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  Generator gen(31);
  const FfnShape& s = kFfnShapes[0];
  Tensor x = Tensor::randn({s.B, s.L, s.D}, gen).to(Device::cuda);
  Tensor route = Tensor::uniform({s.B, 4, s.E}, gen).to(Device::cuda);
  Tensor w1 = Tensor::randn({s.E, s.D, s.F}, gen, 0.1).to(Device::cuda);
  Tensor w3 = Tensor::randn({s.E, s.D, s.F}, gen, 0.1).to(Device::cuda);
  Tensor w2 = Tensor::randn({s.E, s.F, s.D}, gen, 0.1).to(Device::cuda);
  std::vector<float> y1 = ops::lory_ffn(x, route, w1, w3, w2, s.T).to_vector<float>();
  std::vector<float> y2 = ops::lory_ffn(x, route, w1, w3, w2, s.T).to_vector<float>();
  CHECK(y1 == y2);
}
