// Every op of the catalog (ops/catalog.cpp) on the CPU and on the GPU: outputs and gradients
// agree to NMSE <= 1e-7 in fp32 without TF32. Skipped without a GPU.
#include <cstdio>

#include "core/precision.h"
#include "ops/catalog.h"
#include "parity.h"

using namespace lory;

TEST_CASE("every catalog op: CPU and GPU agree in fp32 (forward and backward)", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  int failures = 0;
  for (const ops::OpCase& c : ops::op_catalog()) {
    INFO("op " << c.name << " " << c.shapes);
    Generator gen(1234);
    std::vector<Tensor> inputs = c.inputs(gen, DType::f32);
    test::ParityResult r;
    try {
      r = test::run_parity(c.fn, inputs);
    } catch (const std::exception& e) {
      std::printf("%-28s FAILED: %s\n", c.name.c_str(), e.what());
      ++failures;
      continue;
    }
    std::printf("%-28s output %.1e  worst gradient %.1e\n", c.name.c_str(), r.output, r.worst());
    CHECK(r.output <= 1e-7);
    for (double g : r.gradients) CHECK(g <= 1e-7);
  }
  CHECK(failures == 0);
}
