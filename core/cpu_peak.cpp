// measure_cpu_peak: AVX-512 / AVX2+FMA / plain FMA loops, timed by wall clock and CPU time.
#include "core/cpu_peak.h"

#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace lory {
namespace {

// One thread's FMA loop: kAcc independent accumulators hide the FMA latency (4-5 cycles with two
// FMA pipes needs at least 8-10 in flight). Returns a value that depends on every accumulator so
// the loop cannot be removed; flops_per_iter says how much one iteration computes.
constexpr int kAcc = 12;
#if defined(__AVX512F__)
constexpr double flops_per_iter = kAcc * 16 * 2;
float fma_loop(int64_t iters) {
  __m512 acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_set1_ps(0.001f * k);
  const __m512 x = _mm512_set1_ps(0.9999999f), y = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm512_fmadd_ps(acc[k], x, y);
  float s = 0;
  for (int k = 0; k < kAcc; ++k) s += _mm512_reduce_add_ps(acc[k]);
  return s;
}
#elif defined(__FMA__)
constexpr double flops_per_iter = kAcc * 8 * 2;
float fma_loop(int64_t iters) {
  __m256 acc[kAcc];
  for (int k = 0; k < kAcc; ++k) acc[k] = _mm256_set1_ps(0.001f * k);
  const __m256 x = _mm256_set1_ps(0.9999999f), y = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int k = 0; k < kAcc; ++k) acc[k] = _mm256_fmadd_ps(acc[k], x, y);
  alignas(32) float lanes[8];
  float s = 0;
  for (int k = 0; k < kAcc; ++k) {
    _mm256_store_ps(lanes, acc[k]);
    for (float l : lanes) s += l;
  }
  return s;
}
#else
constexpr double flops_per_iter = kAcc * 8 * 2;
float fma_loop(int64_t iters) {  // plain code for the compiler to vectorise
  float acc[kAcc][8];
  for (int k = 0; k < kAcc; ++k)
    for (int l = 0; l < 8; ++l) acc[k][l] = 0.001f * k;
  for (int64_t i = 0; i < iters; ++i)
    for (int k = 0; k < kAcc; ++k)
      for (int l = 0; l < 8; ++l) acc[k][l] = acc[k][l] * 0.9999999f + 1e-7f;
  float s = 0;
  for (int k = 0; k < kAcc; ++k)
    for (int l = 0; l < 8; ++l) s += acc[k][l];
  return s;
}
#endif

volatile float g_sink;

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double fastest(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

}  // namespace

CpuPeak measure_cpu_peak(int threads, int reps) {
  constexpr int64_t iters = 10'000'000;
  std::vector<double> wall, cpu;
  for (int r = 0; r <= reps; ++r) {  // the first run warms up
    const double w0 = wall_seconds(), c0 = cpu_seconds();
#ifdef LORY_WITH_OPENMP
#pragma omp parallel num_threads(threads)
#endif
    { g_sink = fma_loop(iters); }
    if (r == 0) continue;
    wall.push_back(wall_seconds() - w0);
    cpu.push_back(cpu_seconds() - c0);
  }
  CpuPeak p;
  p.threads = threads;
  const double flops = iters * flops_per_iter;
  // A peak is what the machine can do: other jobs only slow the loop down, so the fastest run is
  // the measurement (a median was seen to halve on this shared machine).
  p.wall_gflops = threads * flops / fastest(wall) / 1e9;
  p.core_gflops = threads * flops / fastest(cpu) / 1e9;
  return p;
}

}  // namespace lory
