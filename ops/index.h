// Row gathers and scatters by index, for the token-level top-k MoE (dispatching tokens to
// experts and combining their outputs) and for picking router probabilities.
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// x (M,D), idx i32 (K) with values in [0,M) -> (K,D): row k is x[idx[k]].
Tensor index_select_rows(const Tensor& x, const Tensor& idx);
// src (K,D), idx i32 (K) -> (M,D): row m is the sum of src[k] over k with idx[k] == m.
Tensor index_add_rows(const Tensor& src, const Tensor& idx, int64_t M);
// x (M,E), idx i32 (M,K) with values in [0,E) -> (M,K): out[m,j] = x[m, idx[m,j]].
Tensor take_along_last(const Tensor& x, const Tensor& idx);
// x (M,E) -> i32 (M,K): the indices of the K largest entries of each row, largest first; ties go
// to the lower index. Not differentiable (indices).
Tensor topk_indices(const Tensor& x, int64_t K);

}  // namespace lory::ops
