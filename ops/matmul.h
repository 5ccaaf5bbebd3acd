// matmul: C = op(A)·op(B), plain, batched and with a broadcast 2-D weight; op(X) is X or Xᵀ
// as the transpose flags say (no transposed copy is ever made).
#pragma once
#include "core/tensor.h"

namespace lory::ops {

// 2-D:        a (M, K)      [(K, M) with trans_a],  b (K, N) [(N, K) with trans_b]  -> (M, N)
// batched:    a (..., M, K) [(..., K, M)],          b (..., K, N) [(..., N, K)]     -> (..., M, N)
//             (a and b of equal rank with identical leading batch dims)
// broadcast:  a (..., M, K) of rank > 2,             b (K, N) [(N, K)]               -> (..., M, N)
//             (the linear-layer case: a is treated as one (prod(...)·M, K) matrix, so this is
//             ONE large GEMM; trans_a is not allowed here)
// f32 or f64 on the CPU (results bitwise identical for any thread count); f32 (TF32 when
// allow_tf32(), core/precision.h), bf16 or f64 on the GPU through cuBLAS.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

}  // namespace lory::ops
