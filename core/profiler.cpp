// The op profiler's accumulators (see core/profiler.h). Ops run on the calling thread (their
// kernels fork inside), so events arrive from one thread at a time; a mutex keeps it safe anyway.
#include "core/profiler.h"

#include <algorithm>
#include <map>
#include <mutex>

namespace lory::profiler {
namespace detail {
bool g_enabled = false;
}

namespace {
std::mutex g_mutex;
void (*g_sync)() = nullptr;
std::map<std::string, OpTime>& table() {
  static std::map<std::string, OpTime> t;
  return t;
}
Clock::time_point& last_event() {
  static Clock::time_point t = Clock::now();
  return t;
}
OpTime& entry(const char* name) {
  OpTime& e = table()[name];
  if (e.name.empty()) e.name = name;
  return e;
}
}  // namespace

void set_sync(void (*sync)()) { g_sync = sync; }

Clock::time_point now() {
  if (g_sync) g_sync();
  return Clock::now();
}

void set_enabled(bool on) {
  detail::g_enabled = on;
  mark();
}

void reset() {
  std::lock_guard<std::mutex> lock(g_mutex);
  table().clear();
  last_event() = Clock::now();
}

void mark() {
  const Clock::time_point t = now();
  std::lock_guard<std::mutex> lock(g_mutex);
  last_event() = t;
}

void on_forward(const char* op) {
  const Clock::time_point t = now();
  std::lock_guard<std::mutex> lock(g_mutex);
  OpTime& e = entry(op);
  e.forward_count += 1;
  e.forward_s += std::chrono::duration<double>(t - last_event()).count();
  last_event() = t;
}

void add_backward(const char* op, double seconds) {
  std::lock_guard<std::mutex> lock(g_mutex);
  OpTime& e = entry(op);
  e.backward_count += 1;
  e.backward_s += seconds;
}

void add_section(const char* name, double seconds) {
  std::lock_guard<std::mutex> lock(g_mutex);
  OpTime& e = entry(name);
  e.forward_count += 1;
  e.forward_s += seconds;
}

std::vector<OpTime> snapshot() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<OpTime> out;
  for (const auto& kv : table()) out.push_back(kv.second);
  std::stable_sort(out.begin(), out.end(), [](const OpTime& a, const OpTime& b) {
    return a.forward_s + a.backward_s > b.forward_s + b.backward_s;
  });
  return out;
}

}  // namespace lory::profiler
