// The process-wide GEMM precision policy (see core/precision.h).
#include "core/precision.h"

#include <atomic>

namespace lory {
namespace {
std::atomic<bool> tf32{false};
}  // namespace

void set_allow_tf32(bool on) { tf32.store(on); }
bool allow_tf32() { return tf32.load(); }

}  // namespace lory
