// bench_lory_ffn: the CPU Lory FFN (ops::lory_ffn, merged experts, segment routing) beside the
// dense SwiGLU FFN it replaces (three ops::matmul + ops::swiglu), forward and backward, at the
// cpu-small layer shape (B8 L256 D256 F704; Lory E8 T64), as FFN GFLOP/s and % of the measured
// FP32 peak. FFN FLOPs are the dense ones, 6·rows·D·F forward and twice that backward: the
// merge (E/T more) is overhead that a Lory layer pays on top, which is what the ratio shows.
//
//   ./build/bench_lory_ffn [reps] [threads] [T] [E]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "bench/bench_util.h"
#include "core/cpu_peak.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {

using bench::Clock;
using bench::median;
using bench::ms_since;

struct Times {
  double fwd, bwd;
};

// Median forward and backward (y.backward into the leaves) milliseconds, one warm-up call first.
Times time_ffn(int reps, const std::function<Tensor()>& fn) {
  std::vector<double> fwd, bwd;
  for (int r = 0; r <= reps; ++r) {
    auto t0 = Clock::now();
    Tensor y = fn();
    const double f = ms_since(t0);
    Tensor seed = Tensor::ones(y.shape(), y.dtype());
    t0 = Clock::now();
    y.backward(seed);
    const double b = ms_since(t0);
    if (r > 0) fwd.push_back(f), bwd.push_back(b);
  }
  return {median(fwd), median(bwd)};
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 9;
  const int threads = argc > 2 ? std::atoi(argv[2]) : num_threads();
  const int64_t T = argc > 3 ? std::atoll(argv[3]) : 64, E = argc > 4 ? std::atoll(argv[4]) : 8;
  const int64_t B = 8, L = 256, D = 256, F = 704, N = (L + T - 1) / T;
  set_num_threads(threads);
  const double peak = measure_cpu_peak(threads, 3).core_gflops * threads;
  std::printf("FFN B%lld L%lld D%lld F%lld; Lory E%lld T%lld; %d threads; FP32 peak %.1f GFLOP/s\n",
              (long long)B, (long long)L, (long long)D, (long long)F, (long long)E, (long long)T,
              threads, peak);
  std::printf("medians of %d calls; GFLOP/s counts the dense FFN's FLOPs (6·rows·D·F forward)\n\n",
              reps);

  Generator gen(1);
  auto param = [&](const Shape& s, double sd) {
    return Tensor::randn(s, gen, sd).set_requires_grad();
  };
  Tensor x = param({B, L, D}, 1.0);
  Tensor w1 = param({D, F}, 0.05), w3 = param({D, F}, 0.05), w2 = param({F, D}, 0.05);
  Tensor e1 = param({E, D, F}, 0.05), e3 = param({E, D, F}, 0.05), e2 = param({E, F, D}, 0.05);
  Tensor route = ops::softmax(Tensor::randn({B, N, E}, gen)).detach().set_requires_grad();

  const Times dense = time_ffn(
      reps, [&] { return ops::matmul(ops::swiglu(ops::matmul(x, w1), ops::matmul(x, w3)), w2); });
  const Times lory = time_ffn(reps, [&] { return ops::lory_ffn(x, route, e1, e3, e2, T); });

  const double fwd_flops = 6.0 * B * L * D * F;
  auto row = [&](const char* name, const Times& t) {
    const double f = fwd_flops / (t.fwd / 1e3) / 1e9, b = 2 * fwd_flops / (t.bwd / 1e3) / 1e9;
    std::printf("%-22s fwd %7.2f ms %6.1f GFLOP/s %4.0f%%   bwd %7.2f ms %6.1f GFLOP/s %4.0f%%\n",
                name, t.fwd, f, 100 * f / peak, t.bwd, b, 100 * b / peak);
  };
  row("dense SwiGLU FFN", dense);
  row("Lory FFN (lory_ffn)", lory);
  // The Lory FFN's extra FLOPs, per segment, relative to the dense FFN's (E/T = r):
  //   forward  3 merges                       6·S·E·D·F  -> + r of the forward (6·rows·D·F)
  //   backward 3 merges (dh, dx) + the folds   6·S·E·D·F + 12·S·E·D·F -> + 1.5 r of the backward
  // So at equal FLOP/s Lory/dense is at most 18 / (18 + 24 r) for forward + backward.
  const double r = double(E) / T, bound = 18.0 / (18.0 + 24.0 * r);
  std::printf("\nLory/dense throughput: forward %.3f, backward %.3f, both %.3f\n",
              dense.fwd / lory.fwd, dense.bwd / lory.bwd,
              (dense.fwd + dense.bwd) / (lory.fwd + lory.bwd));
  std::printf(
      "(at equal FLOP/s the bound is %.3f: merges and merge gradients add E/T = %.3f of the\n"
      "forward and 1.5 E/T of the backward)\n",
      bound, r);
  return 0;
}
