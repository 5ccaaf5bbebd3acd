// Small helpers shared by the benchmarks: wall-clock milliseconds and medians.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace lory::bench {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The median of v (the upper one of an even count); 0 for none.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace lory::bench
