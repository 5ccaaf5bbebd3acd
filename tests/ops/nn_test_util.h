// Helpers for the neural-network op tests: random leaves, gradcheck with a report, closeness to a
// naive reference, and the 1-vs-2-thread bitwise comparison.
#pragma once
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "catch_compat.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

namespace lory::testing {

// An f64 leaf that requires grad (what gradcheck perturbs).
inline Tensor leaf64(const Shape& shape, Generator& gen, double std = 1.0) {
  return Tensor::randn(shape, gen, std, DType::f64).set_requires_grad();
}

inline void require_gradcheck(const TensorFn& fn, const std::vector<Tensor>& inputs) {
  GradcheckResult r = gradcheck(fn, inputs);
  INFO(r.report());
  REQUIRE(r.ok);
}

// max |got - want| over all elements; the sizes must match.
inline double max_abs_diff(const Tensor& got, const std::vector<double>& want) {
  std::vector<double> g = got.to_vector<double>();
  REQUIRE(g.size() == want.size());
  double m = 0;
  for (size_t i = 0; i < g.size(); ++i) m = std::max(m, std::fabs(g[i] - want[i]));
  return m;
}

// Sets the thread count for a scope and restores it after.
class ThreadCountGuard {
 public:
  explicit ThreadCountGuard(int n) : saved_(num_threads()) { set_num_threads(n); }
  ~ThreadCountGuard() { set_num_threads(saved_); }

 private:
  int saved_;
};

// Runs `fn` (which returns the tensors to compare: outputs and gradients) with 1 thread, then
// with 2, and requires every tensor to be bitwise identical.
inline void require_same_bits_1_vs_2_threads(const std::function<std::vector<Tensor>()>& fn) {
  int saved = num_threads();
  set_num_threads(1);
  std::vector<Tensor> one = fn();
  set_num_threads(2);
  std::vector<Tensor> two = fn();
  set_num_threads(saved);
  REQUIRE(one.size() == two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("tensor " << i << ": " << one[i].str());
    REQUIRE(one[i].shape() == two[i].shape());
    REQUIRE(one[i].dtype() == two[i].dtype());
    CHECK(std::memcmp(one[i].raw_data(), two[i].raw_data(), one[i].nbytes()) == 0);
  }
}

}  // namespace lory::testing
