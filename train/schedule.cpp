// Cosine schedule with linear warm-up.
#include "train/schedule.h"

#include <algorithm>
#include <cmath>

namespace lory {

double CosineSchedule::lr(int64_t step) const {
  if (step < warmup_steps) return peak_lr * static_cast<double>(step + 1) / warmup_steps;
  const double span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  const double floor = peak_lr * min_lr_ratio;
  return floor + (peak_lr - floor) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
}

}  // namespace lory
