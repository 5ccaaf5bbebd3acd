// The training kernels on the GPU against the CPU at sizes the op catalog does not reach: cast
// over many blocks, AdamW and the global gradient norm over more tensors than one launch chunk
// (32) with sizes from 1 to beyond one grid. Skipped without a GPU.
#include <cmath>
#include <cstdio>

#include "ops/ops.h"
#include "parity.h"
#include "train/adamw.h"

using namespace lory;

TEST_CASE("cast: CPU and GPU agree bit for bit (f32, bf16, f64, large)", "[cuda]") {
  test::require_gpu();
  Generator gen(5);
  Tensor x = Tensor::randn({1000, 1237}, gen, 4.0);
  for (DType to : {DType::bf16, DType::f64}) {
    INFO("to " << dtype_name(to));
    Tensor c = ops::cast(x, to), g = ops::cast(x.to(Device::cuda), to);
    REQUIRE(g.device() == Device::cuda);
    CHECK(test::nmse(g, c) == 0.0);
    CHECK(test::nmse(ops::cast(g, DType::f32), ops::cast(c, DType::f32)) == 0.0);
  }
  auto r = test::run_parity([](const std::vector<Tensor>& in) { return ops::cast(in[0], DType::f64); },
                            {x.clone().set_requires_grad()});
  CHECK(r.output == 0.0);
  CHECK(r.worst() == 0.0);
}

TEST_CASE("AdamW and clip_grad_norm: CPU and GPU agree over many tensors", "[cuda]") {
  test::require_gpu();
  Generator gen(6);
  const std::vector<int64_t> sizes = {1, 7, 255, 256, 257, 1000, 65537, 300001, 3};
  NamedParams cpu, gpu;
  for (int k = 0; k < 41; ++k) {  // two chunks
    const int64_t n = sizes[k % sizes.size()];
    const std::string name = (k % 5 == 0 ? "norm." : "w.") + std::to_string(k);
    Tensor p = Tensor::randn({n}, gen);
    Tensor pc = p.clone().set_requires_grad(), pg = p.to(Device::cuda).set_requires_grad();
    cpu.push_back({name, pc});
    gpu.push_back({name, pg});
  }
  AdamW oc(cpu, AdamWOptions{}), og(gpu, AdamWOptions{});
  for (int step = 0; step < 3; ++step) {
    for (size_t k = 0; k < cpu.size(); ++k) {
      Tensor g = Tensor::randn(cpu[k].second.shape(), gen, 0.1);
      cpu[k].second.set_grad(g.clone());
      gpu[k].second.set_grad(g.to(Device::cuda));
    }
    const double clip = step == 1 ? 0.5 : 1e9;  // step 1 scales the gradients
    const double nc = clip_grad_norm(cpu, clip), ng = clip_grad_norm(gpu, clip);
    std::printf("step %d  norm cpu %.15g gpu %.15g\n", step, nc, ng);
    CHECK(std::fabs(nc - ng) <= 1e-12 * nc);
    oc.step(1e-2);
    og.step(1e-2);
    for (size_t k = 0; k < cpu.size(); ++k) {
      INFO("tensor " << cpu[k].first << " step " << step);
      CHECK(test::nmse(gpu[k].second, cpu[k].second) <= 1e-12);
      CHECK(test::nmse(og.state()[2 * k].second, oc.state()[2 * k].second) <= 1e-12);
      CHECK(test::nmse(og.state()[2 * k + 1].second, oc.state()[2 * k + 1].second) <= 1e-12);
    }
  }
}
