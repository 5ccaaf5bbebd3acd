// The op catalog: every differentiable op with a representative set of inputs. `lory gradcheck
// --op NAME` checks one of them in float64, and the CPU-vs-GPU parity tests run each on both
// devices. Adding an op means adding its case here too.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/gradcheck.h"
#include "core/random.h"

namespace lory::ops {

struct OpCase {
  std::string name;    // "matmul", "matmul.trans_b", ...
  std::string shapes;  // what the inputs look like, for tables
  // Fresh inputs on the CPU: floating ones in `dtype` (those to differentiate are marked
  // requires_grad), integer ones (ids, targets) in i32.
  std::function<std::vector<Tensor>(Generator& gen, DType dtype)> inputs;
  TensorFn fn;
};

const std::vector<OpCase>& op_catalog();

}  // namespace lory::ops
