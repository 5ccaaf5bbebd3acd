// Gradient checking: compares autograd's gradients with central finite differences in float64.
// A user-facing tool (and the backbone of the op tests):
//
//   auto r = gradcheck([](const std::vector<Tensor>& x) { return ops::silu(x[0]); }, {x});
//   REQUIRE(r.ok);   // r.report() prints per-input max abs/rel errors
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lory {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step (as torch.autograd.gradcheck)
  double atol = 1e-5;  // pass when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  uint64_t seed = 1234;  // for the random projection of a non-scalar output
};

struct GradcheckInputResult {
  int index = 0;          // which input
  int64_t checked = 0;    // elements compared
  double max_abs_err = 0;
  double max_rel_err = 0;
  int64_t worst = -1;     // flat index of the worst element
  double analytic = 0, numeric = 0;  // at the worst element
  bool ok = true;
};

struct GradcheckResult {
  std::vector<GradcheckInputResult> inputs;  // one per input that requires grad
  bool ok = true;
  std::string report() const;  // a small table, one line per input
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// Checks d<r, fn(inputs)>/d(input) for every f64 CPU input that requires grad, where r is a
// fixed random tensor shaped like the output (so every output element matters). fn must be
// deterministic and must read its inputs afresh on every call (they are perturbed in place).
GradcheckResult gradcheck(const TensorFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace lory
