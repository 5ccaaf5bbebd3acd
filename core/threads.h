// CPU threading: the thread count used by OpenMP loops and Eigen GEMMs, and parallel_for.
// Kernels must give bitwise identical results for any thread count: every output element is
// written by one thread, and reductions combine fixed-size chunks in a fixed order.
#pragma once
#include <cstdint>

#ifdef LORY_WITH_OPENMP
#include <omp.h>
#endif

namespace lory {

int num_threads();
void set_num_threads(int n);  // n >= 1; also sets Eigen's thread count

// Calls fn(begin, end) over [0, n) split into contiguous chunks across threads; runs inline
// when n < grain (work too small to be worth a fork).
template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& fn) {
  if (n <= 0) return;
#ifdef LORY_WITH_OPENMP
  int threads = num_threads();
  if (threads > 1 && n >= grain) {
#pragma omp parallel num_threads(threads)
    {
      int t = omp_get_thread_num(), nt = omp_get_num_threads();
      int64_t chunk = (n + nt - 1) / nt;
      int64_t begin = t * chunk, end = begin + chunk < n ? begin + chunk : n;
      if (begin < end) fn(begin, end);
    }
    return;
  }
#endif
  fn(int64_t{0}, n);
}

}  // namespace lory
