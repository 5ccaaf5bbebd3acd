// bench_attn_ce: forward and backward times of causal_attention and cross_entropy at the
// cpu-small training shapes (attention B8 H4 L256 Dh64; cross-entropy 2048 rows × V4096), f32.
//
//   ./build/bench_attn_ce [reps] [threads]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "bench/bench_util.h"
#include "core/autograd.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {

using bench::Clock;
using bench::median;
using bench::ms_since;

// Median forward and backward milliseconds of `fn` (one warm-up call first). Backward is the
// op's own closure, without the accumulation of its gradients into the leaves.
void time_op(const char* name, int reps, const std::function<Tensor()>& fn) {
  std::vector<double> fwd, bwd;
  for (int r = 0; r <= reps; ++r) {
    auto t0 = Clock::now();
    Tensor y = fn();
    double f = ms_since(t0);
    Tensor seed = Tensor::ones(y.shape(), y.dtype());
    std::vector<bool> needs(y.grad_fn()->next.size(), true);
    t0 = Clock::now();
    std::vector<Tensor> grads = y.grad_fn()->backward(seed, needs);  // the op's closure alone
    double b = ms_since(t0);
    if (r > 0) {
      fwd.push_back(f);
      bwd.push_back(b);
    }
  }
  std::printf("%-32s fwd %8.2f ms   bwd %8.2f ms   (median of %d)\n", name, median(fwd), median(bwd),
              reps);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 9;
  const int threads = argc > 2 ? std::atoi(argv[2]) : num_threads();
  set_num_threads(threads);
  std::printf("%d threads\n", threads);
  const int64_t B = 8, L = 256, H = 4, Dh = 64, V = 4096;
  Generator gen(1);
  auto param = [&](const Shape& s) { return Tensor::randn(s, gen, 1.0).set_requires_grad(); };
  Tensor q = param({B, H, L, Dh}), k = param({B, H, L, Dh}), v = param({B, H, L, Dh});
  time_op("causal_attention (8,4,256,64)", reps, [&] { return ops::causal_attention(q, k, v); });
  Tensor logits = param({B * L, V});
  std::vector<int32_t> t(B * L);
  for (auto& x : t) x = static_cast<int32_t>(gen.below(V));
  Tensor targets = Tensor::from_vector(t, {B * L});
  time_op("cross_entropy (2048,4096)", reps, [&] { return ops::cross_entropy(logits, targets); });
  return 0;
}
