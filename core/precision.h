// Precision policy for float32 GEMMs on the GPU: exact fp32 (default, what the parity tests
// assume) or TF32 tensor cores (10-bit mantissa inputs, fp32 accumulation; ~1e-3 relative
// error per product, several times faster). bf16 tensors always use bf16 tensor cores with fp32
// accumulation. The CPU ignores this setting.
#pragma once

namespace lory {

void set_allow_tf32(bool on);
bool allow_tf32();

// Sets TF32 for a scope and restores the previous setting.
class Tf32Guard {
 public:
  explicit Tf32Guard(bool on) : previous_(allow_tf32()) { set_allow_tf32(on); }
  ~Tf32Guard() { set_allow_tf32(previous_); }
  Tf32Guard(const Tf32Guard&) = delete;
  Tf32Guard& operator=(const Tf32Guard&) = delete;

 private:
  bool previous_;
};

}  // namespace lory
