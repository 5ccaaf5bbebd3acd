// Thread count shared by OpenMP kernels and Eigen.
#include "core/threads.h"

#include <Eigen/Core>

#include "core/error.h"

namespace lory {
namespace {
int& thread_count() {
#ifdef LORY_WITH_OPENMP
  static int n = omp_get_max_threads();
#else
  static int n = 1;
#endif
  return n;
}
}  // namespace

int num_threads() { return thread_count(); }

void set_num_threads(int n) {
  LORY_CHECK(n >= 1, "set_num_threads: n is ", n, "; expected at least 1");
  thread_count() = n;
  Eigen::setNbThreads(n);
#ifdef LORY_WITH_OPENMP
  omp_set_num_threads(n);
#endif
}

}  // namespace lory
