// rope: rotary position embedding (Su et al. 2021) in the LLaMA / Hugging Face "rotate_half"
// layout.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace lory::ops {

// x (B, H, L, Dh), Dh even -> (B, H, L, Dh). Row l sits at position p = pos_offset + l (so a
// KV-cache step passes the number of cached tokens). For i in [0, Dh/2), the pair
// (x_i, x_{i+Dh/2}) — the "rotate_half" pairing, not adjacent (2i, 2i+1) — is rotated by the
// angle p · theta^(-2i/Dh):
//   y_i        = x_i cos - x_{i+Dh/2} sin
//   y_{i+Dh/2} = x_{i+Dh/2} cos + x_i sin
// This matches Hugging Face LLaMA checkpoints without a permutation of the q/k weights.
Tensor rope(const Tensor& x, int64_t pos_offset = 0, double theta = 10000.0);

}  // namespace lory::ops
