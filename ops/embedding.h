// embedding: a lookup of table rows by token id.
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// ids i32 (...), table (V, D) -> (..., D): out[..., :] = table[ids[...], :]. Every id must lie
// in [0, V). Gradient flows to the table only (f32 or f64), deterministic for any thread count.
// CPU.
Tensor embedding(const Tensor& ids, const Tensor& table);

}  // namespace lory::ops
