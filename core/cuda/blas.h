// GEMMs on the GPU through cuBLAS, in the project's row-major convention. Every GEMM of every
// op goes through here: one handle, one stream, the precision policy in one place.
#pragma once
#include "core/cuda/api.h"

namespace lory::cuda {

// C = alpha · op(A) · op(B) + beta · C for `batch` row-major problems at element strides
// stride_a/b/c apart.  op(A) is (M, K), op(B) is (K, N), C is (M, N); lda/ldb/ldc are the row
// strides of A, B, C as stored (A stored (M, K) when !trans_a, (K, M) when trans_a).
// dt: f32 (TF32 tensor cores when allow_tf32() is on), bf16 (fp32 accumulation) or f64.
// A, B and C all have dtype dt.
LORY_CUDA_API(gemm(DType dt, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   float alpha, const void* A, int64_t lda, const void* B, int64_t ldb,
                   float beta, void* C, int64_t ldc, int64_t batch = 1, int64_t stride_a = 0,
                   int64_t stride_b = 0, int64_t stride_c = 0))

// Waits for the GPU to finish all queued work (benchmarks, tests).
LORY_CUDA_API(synchronize())

}  // namespace lory::cuda
