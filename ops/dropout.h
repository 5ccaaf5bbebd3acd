// Inverted dropout with counter-based masks: reproducible for a generator state on any thread
// count (and on the GPU, which draws the same uniform_at values).
#pragma once
#include "core/random.h"
#include "core/tensor.h"

namespace lory::ops {

// x (...) -> (...). When training and p > 0: element i is kept when
// uniform_at(gen.seed(), first + i) >= p (probability 1 - p), with first = gen.advance(numel),
// and a kept element is scaled by 1 / (1 - p) so that E[y] = x. Otherwise returns x itself and
// leaves gen untouched. p must be in [0, 1).
Tensor dropout(const Tensor& x, double p, Generator& gen, bool training);

}  // namespace lory::ops
