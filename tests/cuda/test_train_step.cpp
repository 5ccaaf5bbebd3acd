// Whole training steps (forward, backward, clipping, AdamW) of tiny dense, Lory and top-k models
// on the CPU and on the GPU in fp32 without TF32: loss, gradient norm, every updated parameter
// and the optimizer state agree. Plus bf16 mixed precision on the GPU. Skipped without a GPU.
#include <cmath>
#include <cstdio>

#include "core/precision.h"
#include "models/transformer.h"
#include "parity.h"
#include "train/adamw.h"

using namespace lory;

namespace {

ModelConfig tiny(FfnKind ffn) {
  ModelConfig c;
  c.vocab = 67;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.d_ff = 48;
  c.max_seq = 32;
  c.ffn = ffn;
  c.n_experts = 4;
  c.segment_len = 8;
  c.top_k = 2;
  c.init_std = 0.1;  // larger than the default: gradients well above rounding noise
  c.router_std = 0.5;
  return c;
}

std::pair<Tensor, Tensor> batch(const ModelConfig& c, int64_t B, int64_t L, uint64_t seed) {
  Generator gen(seed);
  std::vector<int32_t> x(B * L), y(B * L);
  for (auto& v : x) v = static_cast<int32_t>(gen.below(c.vocab));
  for (auto& v : y) v = static_cast<int32_t>(gen.below(c.vocab));
  return {Tensor::from_vector(x, {B, L}), Tensor::from_vector(y, {B, L})};
}

struct StepResult {
  double loss = 0, norm = 0;
};

StepResult train_step(Transformer& m, AdamW& opt, const Tensor& x, const Tensor& y, double clip) {
  LossParts parts = m.loss(x.to(m.device()), y.to(m.device()));
  parts.total.backward();
  StepResult r;
  r.loss = parts.total.item();
  r.norm = clip_grad_norm(m.parameters(), clip);
  opt.step(1e-2);
  opt.zero_grad();
  return r;
}

}  // namespace

TEST_CASE("training steps: CPU and GPU agree in fp32 (dense, Lory, top-k)", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  for (FfnKind ffn : {FfnKind::dense, FfnKind::lory, FfnKind::topk}) {
    INFO("ffn " << ffn_kind_name(ffn));
    const ModelConfig c = tiny(ffn);
    Transformer cpu(c), gpu(c);
    gpu.to(Device::cuda);
    REQUIRE(gpu.device() == Device::cuda);
    for (const auto& [name, p] : gpu.parameters()) REQUIRE(p.device() == Device::cuda);
    AdamW ocpu(cpu.parameters(), AdamWOptions{}), ogpu(gpu.parameters(), AdamWOptions{});
    for (int step = 0; step < 2; ++step) {
      INFO("step " << step);
      auto [x, y] = batch(c, 2, 32, 10 + step);
      // Step 0 clips hard (the scaling path); step 1 does not clip.
      const double clip = step == 0 ? 1e-3 : 0.0;
      StepResult rc = train_step(cpu, ocpu, x, y, clip);
      StepResult rg = train_step(gpu, ogpu, x, y, clip);
      std::printf("%-6s step %d  loss cpu %.9f gpu %.9f  norm cpu %.9g gpu %.9g\n",
                  ffn_kind_name(ffn), step, rc.loss, rg.loss, rc.norm, rg.norm);
      CHECK(std::fabs(rg.loss - rc.loss) <= 1e-6 * std::fabs(rc.loss));
      CHECK(std::fabs(rg.norm - rc.norm) <= 1e-5 * rc.norm);
      const NamedParams pc = cpu.parameters(), pg = gpu.parameters();
      double worst = 0;
      for (size_t i = 0; i < pc.size(); ++i) {
        INFO("parameter " << pc[i].first);
        const double e = test::nmse(pg[i].second, pc[i].second);
        worst = std::max(worst, e);
        CHECK(e <= 1e-7);
      }
      const NamedParams sc = ocpu.state(), sg = ogpu.state();
      double worst_state = 0;
      for (size_t i = 0; i < sc.size(); ++i) {
        INFO("state " << sc[i].first);
        REQUIRE(sg[i].second.device() == Device::cuda);
        const double e = test::nmse(sg[i].second, sc[i].second);
        worst_state = std::max(worst_state, e);
        CHECK(e <= 1e-5);  // v = Σ g²: relative errors of small gradients show up here first
      }
      std::printf("       worst parameter NMSE %.1e, worst state NMSE %.1e\n", worst, worst_state);
    }
  }
}

TEST_CASE("bf16 mixed precision: fp32 master weights, fp32 loss, close to the fp32 step", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  for (FfnKind ffn : {FfnKind::dense, FfnKind::lory}) {
    INFO("ffn " << ffn_kind_name(ffn));
    const ModelConfig c = tiny(ffn);
    Transformer ref(c), mixed(c);
    ref.to(Device::cuda);
    mixed.to(Device::cuda);
    mixed.set_precision(Precision::bf16);
    CHECK(mixed.compute_dtype() == DType::bf16);
    auto [x, y] = batch(c, 2, 32, 3);
    LossParts a = ref.loss(x, y), b = mixed.loss(x, y);
    CHECK(b.total.dtype() == DType::f32);
    a.total.backward();
    b.total.backward();
    std::printf("%-6s loss fp32 %.6f bf16 %.6f\n", ffn_kind_name(ffn), a.total.item(), b.total.item());
    CHECK(std::fabs(a.total.item() - b.total.item()) <= 2e-2 * std::fabs(a.total.item()));
    const NamedParams pa = ref.parameters(), pb = mixed.parameters();
    for (size_t i = 0; i < pa.size(); ++i) {
      INFO("parameter " << pa[i].first);
      REQUIRE(pb[i].second.dtype() == DType::f32);
      REQUIRE(pb[i].second.grad().defined());
      CHECK(pb[i].second.grad().dtype() == DType::f32);
      CHECK(test::nmse(pb[i].second.grad(), pa[i].second.grad()) <= 1e-2);
    }
    AdamW opt(mixed.parameters(), AdamWOptions{});
    const double norm = clip_grad_norm(mixed.parameters(), 1.0);
    CHECK(std::isfinite(norm));
    opt.step(1e-3);
  }
}
