// GPU timing with CUDA events on the one stream (benchmarks): the device time of the work a
// function queues, without the host's launch overhead.
#pragma once
#include <functional>

#include "core/cuda/api.h"

namespace lory::cuda {

// Records an event, runs work() (which queues GPU work), records a second event, waits for it
// and stores the milliseconds between the two events in *ms.
LORY_CUDA_API(time_ms(const std::function<void()>& work, float* ms))

}  // namespace lory::cuda
