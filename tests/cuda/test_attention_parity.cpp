// causal_attention on the GPU against the CPU op: outputs and dq, dk, dv over head dims 8..128,
// several query/key tiles, ragged tails and KV-cache decoding (Lk > Lq), in f32 and bf16 (SIMT
// kernels) and bf16 on tensor cores (Dh 64, 128); tensor cores agree with SIMT; the GPU backward
// is bitwise repeatable on both paths; bad inputs fail clearly. Skipped without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/precision.h"
#include "ops/attention.h"
#include "ops/cuda/attention.h"
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

// Sets LORY_ATTENTION (nullptr: unsets it) for a scope, so that a test runs the kernels it means
// to (ops::causal_attention reads it at every call, forward and backward) whatever the caller's
// environment says; restores the previous value.
class AttentionEnv {
 public:
  explicit AttentionEnv(const char* value) {
    const char* old = std::getenv("LORY_ATTENTION");
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value != nullptr)
      setenv("LORY_ATTENTION", value, 1);
    else
      unsetenv("LORY_ATTENTION");
  }
  ~AttentionEnv() {
    if (had_)
      setenv("LORY_ATTENTION", old_.c_str(), 1);
    else
      unsetenv("LORY_ATTENTION");
  }
  AttentionEnv(const AttentionEnv&) = delete;
  AttentionEnv& operator=(const AttentionEnv&) = delete;

 private:
  bool had_ = false;
  std::string old_;
};

// Tensor-core shapes (Dh 64, 128): one query and key; ragged query and key tails (not multiples
// of the 64-row tiles); several full tiles; decoding, Lk > Lq, with an offset that is not a
// multiple of 64 (warps whose rows see none of a tile), one query over 300 keys, and a chunk.
const Sizes kTensorCoreShapes[] = {{1, 1, 1, 1, 64},       {2, 3, 100, 100, 64},
                                   {1, 2, 65, 129, 64},    {2, 4, 256, 256, 128},
                                   {1, 3, 77, 200, 128},   {1, 2, 1, 300, 128},
                                   {2, 2, 130, 130, 64},   {1, 2, 40, 1000, 64}};

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
  AttentionEnv simt("simt");  // the SIMT kernels at every Dh (tensor cores: the next test)
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

// Tensor cores: P (forward, dV) and dS (dQ, dK) are rounded to bf16 as MMA inputs, on top of the
// bf16 outputs and seed; relative error per term about 2^-9, NMSE some 1e-6. Same bound.
TEST_CASE("causal_attention: GPU bf16 tensor cores match the CPU", "[cuda]") {
  test::require_gpu();
  AttentionEnv automatic(nullptr);
  for (const Sizes& s : kTensorCoreShapes) {
    INFO(describe(s));
    Generator gen(46);
    test::ParityResult r =
        test::run_parity(attention, make_inputs(s, gen, true), 7, DType::bf16);
    std::printf("tc   %-36s output %.1e  worst gradient %.1e\n", describe(s).c_str(), r.output,
                r.worst());
    CHECK(r.output <= 1e-4);
    REQUIRE(r.gradients.size() == 3);
    for (double g : r.gradients) CHECK(g <= 1e-4);
  }
}

// The two kernel families through the launchers, forced (AttentionKernel::tensor_core fails
// rather than falling back): the same bf16 inputs, forward compared on out and lse, backward
// from the same out and lse (SIMT's) so that only the backward kernels differ. Queries and keys
// with standard deviation 1 and 3: at 3 the scores spread over tens of units, so a row's max
// moves by more than the forward's lazy-rescale margin between tiles and the accumulator
// rescaling runs (at 1 it rarely does).
TEST_CASE("causal_attention: GPU tensor cores agree with the SIMT kernels", "[cuda]") {
  test::require_gpu();
  using ops::cuda::AttentionKernel;
  for (double qk_std : {1.0, 3.0})
  for (const Sizes& s : kTensorCoreShapes) {
    INFO(describe(s) << ", q and k std " << qk_std);
    Generator gen(47);
    auto randn = [&](int64_t L, double std) {
      return Tensor::randn({s.B, s.H, L, s.Dh}, gen, std).to(Device::cuda).to(DType::bf16);
    };
    Tensor q = randn(s.Lq, qk_std), k = randn(s.Lk, qk_std), v = randn(s.Lk, 1.0),
           dout = randn(s.Lq, 1.0);
    const int64_t BH = s.B * s.H;
    Tensor out[2], lse[2], dq[2], dk[2], dv[2];
    const AttentionKernel kernels[2] = {AttentionKernel::simt, AttentionKernel::tensor_core};
    for (int a = 0; a < 2; ++a) {
      out[a] = Tensor::empty(q.shape(), DType::bf16, Device::cuda);
      lse[a] = Tensor::empty({s.B, s.H, s.Lq}, DType::f32, Device::cuda);
      dq[a] = Tensor::empty(q.shape(), DType::bf16, Device::cuda);
      dk[a] = Tensor::empty(k.shape(), DType::bf16, Device::cuda);
      dv[a] = Tensor::empty(k.shape(), DType::bf16, Device::cuda);
      ops::cuda::causal_attention_forward(DType::bf16, q.raw_data(), k.raw_data(), v.raw_data(),
                                          out[a].raw_data(), lse[a].raw_data(), BH, s.Lq, s.Lk,
                                          s.Dh, kernels[a]);
      ops::cuda::causal_attention_backward(
          DType::bf16, q.raw_data(), k.raw_data(), v.raw_data(), out[0].raw_data(),
          lse[0].raw_data(), dout.raw_data(), dq[a].raw_data(), dk[a].raw_data(),
          dv[a].raw_data(), BH, s.Lq, s.Lk, s.Dh, kernels[a]);
    }
    const double e_out = test::nmse(out[1], out[0]), e_dq = test::nmse(dq[1], dq[0]),
                 e_dk = test::nmse(dk[1], dk[0]), e_dv = test::nmse(dv[1], dv[0]);
    std::printf("tc vs simt %-30s std %.0f out %.1e dq %.1e dk %.1e dv %.1e\n",
                describe(s).c_str(), qk_std, e_out, e_dq, e_dk, e_dv);
    CHECK(e_out <= 1e-4);
    CHECK(e_dq <= 1e-4);
    CHECK(e_dk <= 1e-4);
    CHECK(e_dv <= 1e-4);
    // lse comes from the same fp32 scores summed in another order: round-off only.
    std::vector<float> l0 = lse[0].to_vector<float>(), l1 = lse[1].to_vector<float>();
    double worst = 0;
    for (size_t i = 0; i < l0.size(); ++i)
      worst = std::max(worst, static_cast<double>(std::fabs(l0[i] - l1[i])));
    CHECK(worst <= 1e-4);
  }
}

namespace {

// Runs forward and backward twice on the GPU in `dt` (f32: SIMT; bf16 at Dh 64: tensor cores)
// and requires identical bits.
void check_repeatable(DType dt) {
  AttentionEnv automatic(nullptr);
  Generator gen(44);
  Sizes s{2, 2, 70, 100, 64};
  std::vector<Tensor> cpu = make_inputs(s, gen, false);
  Tensor dy = Tensor::randn({s.B, s.H, s.Lq, s.Dh}, gen).to(Device::cuda).to(dt);
  std::vector<std::vector<float>> runs[2];
  for (auto& run : runs) {
    std::vector<Tensor> x;
    for (const Tensor& t : cpu) x.push_back(t.detach().to(Device::cuda).to(dt).set_requires_grad());
    Tensor o = attention(x);
    o.backward(dy);
    run.push_back(o.to_vector<float>());
    for (const Tensor& t : x) run.push_back(t.grad().to_vector<float>());
  }
  for (size_t i = 0; i < runs[0].size(); ++i) {
    INFO("tensor " << i << " (output, dq, dk, dv), dtype " << dtype_name(dt));
    CHECK(runs[0][i] == runs[1][i]);
  }
}

}  // namespace

TEST_CASE("causal_attention: GPU forward and backward are bitwise repeatable", "[cuda]") {
  test::require_gpu();
  check_repeatable(DType::f32);
  check_repeatable(DType::bf16);
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
