// The machine's measured FP32 peak: an FMA loop with many independent accumulators (no memory
// traffic), on each thread at once. Benchmarks report model FLOP/s as a fraction of it.
#pragma once

namespace lory {

struct CpuPeak {
  double core_gflops = 0;  // one core, by CPU time (what a core does while it runs)
  double wall_gflops = 0;  // all `threads` threads together, by wall clock
  int threads = 1;
};

// Runs the loop `reps` times on `threads` threads and keeps the fastest run.
CpuPeak measure_cpu_peak(int threads, int reps = 5);

}  // namespace lory
