// causal_attention on the GPU against the CPU op: outputs and dq, dk, dv over head dims 8..128,
// several query/key tiles, ragged tails and KV-cache decoding (Lk > Lq), in f32 and bf16; the
// GPU backward is bitwise repeatable; bad inputs fail clearly. Skipped without a GPU.
#include <cstdio>

#include "core/precision.h"
#include "ops/attention.h"
#include "parity.h"

using namespace lory;

namespace {

struct Sizes {
  int64_t B, H, Lq, Lk, Dh;
};

// The shapes: one query; Dh and L not multiples of the tiles; many tiles at Dh = 64; a ragged
// query tail at Dh = 128; one decoding query over 37 cached keys; a short chunk over 300 keys.
const Sizes kShapes[] = {{1, 1, 1, 1, 8},    {2, 3, 17, 17, 16}, {2, 8, 256, 256, 64},
                         {1, 4, 130, 130, 128}, {1, 2, 1, 37, 64}, {2, 2, 5, 300, 64}};

// q, k, v on the CPU in f32, requiring grad. With `bf16_exact` the values are rounded to bf16
// first, so a bf16 GPU run sees exactly the CPU's inputs and the comparison measures only the
// kernel (its bf16 outputs and the bf16 seed gradient), not the input rounding.
std::vector<Tensor> make_inputs(const Sizes& s, Generator& gen, bool bf16_exact) {
  std::vector<Tensor> in;
  for (Shape shape : {Shape{s.B, s.H, s.Lq, s.Dh}, Shape{s.B, s.H, s.Lk, s.Dh},
                      Shape{s.B, s.H, s.Lk, s.Dh}}) {
    Tensor t = Tensor::randn(shape, gen, 1.0, DType::f32);
    if (bf16_exact) t = t.to(DType::bf16).to(DType::f32);
    in.push_back(t.set_requires_grad());
  }
  return in;
}

Tensor attention(const std::vector<Tensor>& x) { return ops::causal_attention(x[0], x[1], x[2]); }

std::string describe(const Sizes& s) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "B %lld H %lld Lq %lld Lk %lld Dh %lld", (long long)s.B,
                (long long)s.H, (long long)s.Lq, (long long)s.Lk, (long long)s.Dh);
  return buf;
}

}  // namespace

TEST_CASE("causal_attention: GPU f32 matches the CPU (forward, dq, dk, dv)", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  for (const Sizes& s : kShapes) {
    INFO(describe(s));
    Generator gen(42);
    test::ParityResult r = test::run_parity(attention, make_inputs(s, gen, false));
    std::printf("f32  %-36s output %.1e  worst gradient %.1e\n", describe(s).c_str(), r.output,
                r.worst());
    CHECK(r.output <= 1e-7);
    REQUIRE(r.gradients.size() == 3);
    for (double g : r.gradients) CHECK(g <= 1e-7);
  }
}

// bf16: outputs and gradients are rounded to bf16 (relative error up to 2^-9, NMSE about 1e-6)
// and the seed gradient is rounded too; everything else runs in fp32. Bound: NMSE <= 1e-4.
TEST_CASE("causal_attention: GPU bf16 matches the CPU within bf16 rounding", "[cuda]") {
  test::require_gpu();
  for (const Sizes& s : kShapes) {
    INFO(describe(s));
    Generator gen(43);
    test::ParityResult r =
        test::run_parity(attention, make_inputs(s, gen, true), 7, DType::bf16);
    std::printf("bf16 %-36s output %.1e  worst gradient %.1e\n", describe(s).c_str(), r.output,
                r.worst());
    CHECK(r.output <= 1e-4);
    REQUIRE(r.gradients.size() == 3);
    for (double g : r.gradients) CHECK(g <= 1e-4);
  }
}

TEST_CASE("causal_attention: GPU forward and backward are bitwise repeatable", "[cuda]") {
  test::require_gpu();
  Generator gen(44);
  Sizes s{2, 2, 70, 100, 64};
  std::vector<Tensor> cpu = make_inputs(s, gen, false);
  Tensor dy = Tensor::randn({s.B, s.H, s.Lq, s.Dh}, gen).to(Device::cuda);
  std::vector<std::vector<float>> runs[2];
  for (auto& run : runs) {
    std::vector<Tensor> x;
    for (const Tensor& t : cpu) x.push_back(t.detach().to(Device::cuda).set_requires_grad());
    Tensor o = attention(x);
    o.backward(dy);
    run.push_back(o.to_vector<float>());
    for (const Tensor& t : x) run.push_back(t.grad().to_vector<float>());
  }
  for (size_t i = 0; i < runs[0].size(); ++i) {
    INFO("tensor " << i << " (output, dq, dk, dv)");
    CHECK(runs[0][i] == runs[1][i]);
  }
}

TEST_CASE("causal_attention: GPU bad inputs fail clearly", "[cuda]") {
  test::require_gpu();
  Generator gen(45);
  Tensor q = Tensor::randn({1, 1, 4, 129}, gen).to(Device::cuda);
  CHECK_THROWS_WITH(ops::causal_attention(q, q, q), HasSubstr("expected Dh <= 128"));
  Tensor qc = Tensor::randn({1, 1, 4, 8}, gen);
  Tensor kg = Tensor::randn({1, 1, 4, 8}, gen).to(Device::cuda);
  CHECK_THROWS_AS(ops::causal_attention(qc, kg, kg), Error);
  Tensor q64 = Tensor::randn({1, 1, 4, 8}, gen, 1.0, DType::f64).to(Device::cuda);
  CHECK_THROWS_WITH(ops::causal_attention(q64, q64, q64), HasSubstr("expected f32 or bf16"));
}
