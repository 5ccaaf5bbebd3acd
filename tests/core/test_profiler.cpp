// The op profiler: counts forward and backward calls per op kind, times that are non-negative
// and add up to no more than the wall time, nothing recorded while off.
#include <chrono>
#include <map>

#include "catch_compat.h"
#include "core/autograd.h"
#include "core/profiler.h"
#include "ops/ops.h"

using namespace lory;

namespace {
std::map<std::string, profiler::OpTime> by_name() {
  std::map<std::string, profiler::OpTime> m;
  for (const profiler::OpTime& o : profiler::snapshot()) m[o.name] = o;
  return m;
}
}  // namespace

TEST_CASE("the profiler counts each op's forward and backward calls", "[core][profiler]") {
  Tensor x = Tensor::full({64, 32}, 0.5, DType::f32).set_requires_grad();
  Tensor w = Tensor::full({32, 16}, 0.25, DType::f32).set_requires_grad();
  profiler::reset();
  profiler::set_enabled(true);
  const auto t0 = std::chrono::steady_clock::now();
  // matmul twice, silu once, scale once, sum once; backward runs each node once.
  Tensor h = ops::silu(ops::matmul(x, w));
  Tensor y = ops::sum(ops::scale(ops::matmul(h, w, false, true), 2.0));
  y.backward();
  { profiler::SectionTimer section("optimizer"); }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  profiler::set_enabled(false);
  auto m = by_name();
  REQUIRE(m.count("matmul") == 1);
  CHECK(m["matmul"].forward_count == 2);
  CHECK(m["matmul"].backward_count == 2);
  CHECK(m["silu"].forward_count == 1);
  CHECK(m["silu"].backward_count == 1);
  CHECK(m["scale"].forward_count == 1);
  CHECK(m["scale"].backward_count == 1);
  CHECK(m["sum"].forward_count == 1);
  CHECK(m["sum"].backward_count == 1);
  CHECK(m["optimizer"].forward_count == 1);
  CHECK(m["optimizer"].backward_count == 0);
  // Ops run inside backward closures (matmul's backward calls GEMMs, not ops, but others may)
  // are never counted as forward calls: the counts above are exact.
  double total = 0;
  for (const auto& kv : m) {
    CHECK(kv.second.forward_s >= 0);
    CHECK(kv.second.backward_s >= 0);
    total += kv.second.forward_s + kv.second.backward_s;
  }
  CHECK(total > 0);
  CHECK(total <= wall * 1.01 + 1e-6);
  // snapshot is sorted by total time, largest first.
  auto snap = profiler::snapshot();
  for (size_t i = 1; i < snap.size(); ++i)
    CHECK(snap[i - 1].forward_s + snap[i - 1].backward_s >= snap[i].forward_s + snap[i].backward_s);
  profiler::reset();
  CHECK(profiler::snapshot().empty());
}

TEST_CASE("the profiler records nothing while off", "[core][profiler]") {
  profiler::reset();
  REQUIRE_FALSE(profiler::enabled());
  Tensor x = Tensor::full({8}, 1.0, DType::f64).set_requires_grad();
  ops::sum(ops::scale(x, 3.0)).backward();
  { profiler::SectionTimer section("optimizer"); }
  CHECK(profiler::snapshot().empty());
  CHECK(x.grad().to_vector<double>() == std::vector<double>(8, 3.0));
}
