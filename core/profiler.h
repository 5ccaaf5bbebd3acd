// Per-op time profile of forward and backward passes, for benchmarks (bench_model, lory bench).
// Off by default and then free: record() and run_backward() test one flag and read no clock.
//
// Forward time of an op is measured without touching the ops: every op computes its output and
// then calls record(), so the time from the previous profiler event (the previous record(), or a
// mark()) to this record() is the op's own (exclusive) forward time; an op that calls other ops
// gets only what is left after theirs. Work between ops outside any op (model glue) lands on the
// next op, so call mark() before a forward pass. Backward time is the time of each node's closure
// (plus the accumulation of its gradients into the inputs), measured in run_backward. Named
// sections (e.g. "optimizer") are timed explicitly with add_section or a SectionTimer.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace lory::profiler {

struct OpTime {
  std::string name;
  int64_t forward_count = 0, backward_count = 0;
  double forward_s = 0, backward_s = 0;
};

namespace detail {
extern bool g_enabled;
}

inline bool enabled() { return detail::g_enabled; }
void set_enabled(bool on);  // also restarts the forward clock (mark())
void reset();               // forget everything accumulated so far

// Restarts the forward clock: time before this call is attributed to no op.
void mark();
// Called by record() (forward) and run_backward() (backward) when enabled.
void on_forward(const char* op);
void add_backward(const char* op, double seconds);
// A named section outside the autograd ops (counted as forward time, count 1 per call).
void add_section(const char* name, double seconds);

// Accumulated times, largest total (forward + backward) first.
std::vector<OpTime> snapshot();

using Clock = std::chrono::steady_clock;

// On a GPU, kernels run asynchronously: a sync function (cuda::synchronize) called before every
// clock read makes the times those of the ops' kernels (at the cost of the overlap between host
// and device). Null, the default, on the CPU.
void set_sync(void (*sync)());
Clock::time_point now();  // the sync function (when set), then the clock

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(now() - t0).count();
}

// Times a scope into add_section(name) when the profiler is on; restarts the forward clock after.
class SectionTimer {
 public:
  explicit SectionTimer(const char* name) : name_(name), on_(enabled()) {
    if (on_) t0_ = now();
  }
  ~SectionTimer() {
    if (!on_) return;
    add_section(name_, seconds_since(t0_));
    mark();
  }
  SectionTimer(const SectionTimer&) = delete;
  SectionTimer& operator=(const SectionTimer&) = delete;

 private:
  const char* name_;
  bool on_;
  Clock::time_point t0_;
};

}  // namespace lory::profiler
