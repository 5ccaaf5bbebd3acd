// bench_gemm: FP32 throughput of ops::matmul (our packed kernel, core/cpu/gemm.h) as a fraction
// of this machine's peak, which is measured in the same run by an FMA loop with many independent
// accumulators, each shape beside Eigen's single-threaded GEMM on the same buffers (reference).
//
//   ./build/bench_gemm [reps]      (default 7; prints median times, GFLOP/s and % of peak)
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

#include "bench/bench_util.h"
#include "core/autograd.h"
#include "core/random.h"
#include "core/threads.h"
#include "core/cpu_peak.h"
#include "ops/matmul.h"

using namespace lory;

namespace {

using bench::median;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_s() {  // CPU time of the whole process (all threads)
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// Wall-clock and CPU seconds of each of `reps` calls of fn (after one warm-up call), medians.
// On a machine shared with other jobs, wall time includes the time our threads wait for a core;
// CPU time does not, so flops / CPU time measures the kernel while it actually runs.
struct Timing {
  double wall, cpu;
};

template <typename F>
Timing time_median(F&& fn, int reps) {
  fn();
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    double w0 = now_s(), c0 = cpu_s();
    fn();
    cpu.push_back(cpu_s() - c0);
    wall.push_back(now_s() - w0);
  }
  return {median(wall), median(cpu)};
}

struct Problem {
  const char* name;
  int64_t batch, M, K, N;
  bool ta = false, tb = false;  // op(A) = Aᵀ (A stored K × M), op(B) = Bᵀ (B stored N × K)
};

// One table row. The peak of t threads is t × the single-core peak (measured by CPU time, so
// it is what a core does while it runs); "wall" compares wall-clock GFLOP/s with it, "CPU"
// compares flops per CPU-second (the efficiency of the kernel while it has the cores).
void print_row(const char* name, int threads, double flops, const Timing& t, double core_peak) {
  double gf = flops / t.wall / 1e9;
  std::printf("%-34s %7d %9.2f %9.1f %9.0f%% %8.0f%%\n", name, threads, t.wall * 1e3, gf,
              100.0 * gf / (threads * core_peak), 100.0 * flops / t.cpu / 1e9 / core_peak);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  NoGradGuard no_grad;
  const CpuPeak p1 = measure_cpu_peak(1, reps), p2 = measure_cpu_peak(2, reps);
  const double core_peak = p1.core_gflops;
  std::printf("fp32 FMA peak (wall clock): 1 thread %.1f GFLOP/s, 2 threads %.1f GFLOP/s\n",
              p1.wall_gflops, p2.wall_gflops);
  std::printf("fp32 FMA peak of one core while it runs (CPU time): %.1f GFLOP/s\n", core_peak);
  std::printf(
      "rows: median of %d calls; %% of peak = GFLOP/s / (threads x %.1f), by wall clock\n"
      "and by CPU time (the latter ignores time lost to other jobs on a shared machine)\n\n",
      reps, core_peak);
  const Problem problems[] = {
      {"1024 x 1024 x 1024", 1, 1024, 1024, 1024},
      {"2048 x 256 x 704 (FFN up)", 1, 2048, 256, 704},
      {"2048 x 704 x 256 (FFN down)", 1, 2048, 704, 256},
      {"2048 x 256 x 4096 (LM head)", 1, 2048, 256, 4096},
      {"256 x 2048 x 704 (dW = x^T dy)", 1, 256, 2048, 704, true, false},
      {"2048 x 704 x 256 (dx = dy W^T)", 1, 2048, 704, 256, false, true},
      {"2048 x 4096 x 256 (LM head dx)", 1, 2048, 4096, 256, false, true},
      {"256 x 2048 x 4096 (LM head dW)", 1, 256, 2048, 4096, true, false},
      {"2048 x 256 x 256 (attn proj)", 1, 2048, 256, 256},
      {"2048 x 256 x 256 (proj dx)", 1, 2048, 256, 256, false, true},
      {"256 x 2048 x 256 (proj dW)", 1, 256, 2048, 256, true, false},
      {"64 x 256 x 704 (Lory segment)", 1, 64, 256, 704},
      {"64 x (256 x 64 x 256) batched", 64, 256, 64, 256},
  };
  std::printf("%-34s %7s %9s %9s %10s %9s\n", "M x K x N", "threads", "median ms", "GFLOP/s",
              "%peak wall", "%peak CPU");
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Map = Eigen::Map<const Mat>;
  Generator gen(1);
  for (const Problem& p : problems) {
    const int64_t ar = p.ta ? p.K : p.M, ac = p.ta ? p.M : p.K;
    const int64_t br = p.tb ? p.N : p.K, bc = p.tb ? p.K : p.N;
    Shape sa = p.batch > 1 ? Shape{p.batch, ar, ac} : Shape{ar, ac};
    Shape sb = p.batch > 1 ? Shape{p.batch, br, bc} : Shape{br, bc};
    Tensor a = Tensor::randn(sa, gen), b = Tensor::randn(sb, gen);
    double flops = 2.0 * p.batch * p.M * p.K * p.N;
    for (int threads = 1; threads <= 2; ++threads) {
      set_num_threads(threads);
      print_row(p.name, threads, flops,
                time_median([&] { ops::matmul(a, b, p.ta, p.tb); }, reps), core_peak);
    }
    if (p.batch > 1) continue;
    // Reference: Eigen's GEMM on the same buffers, one thread (what every tile ran before).
    Eigen::setNbThreads(1);
    Map ma(a.data<float>(), ar, ac), mb(b.data<float>(), br, bc);
    Mat mc(p.M, p.N);
    auto eigen = [&] {
      if (p.ta) mc.noalias() = ma.transpose() * mb;
      else if (p.tb) mc.noalias() = ma * mb.transpose();
      else mc.noalias() = ma * mb;
    };
    print_row("  Eigen (reference)", 1, flops, time_median(eigen, reps), core_peak);
  }
  return 0;
}
