// Learning-rate schedule: linear warm-up, then cosine decay to a floor (LORY.md §3).
#pragma once
#include <cstdint>

namespace lory {

struct CosineSchedule {
  double peak_lr = 2e-4;
  double min_lr_ratio = 0.1;  // the floor, as a fraction of the peak
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  // lr for step s (0-based): (s+1)/warmup·peak during warm-up, then cosine to the floor.
  double lr(int64_t step) const;
};

}  // namespace lory
