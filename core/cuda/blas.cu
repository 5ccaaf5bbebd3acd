// cuBLAS GEMMs in row-major form (see core/cuda/blas.h). cuBLAS is column-major: a row-major
// (M, N) matrix C is the column-major (N, M) matrix Cᵀ, and Cᵀ = op(B)ᵀ·op(A)ᵀ, so each call
// swaps the operands and the M/N extents and keeps the transpose flags.
#include <cublas_v2.h>

#include "core/cuda/blas.h"
#include "core/cuda/check.h"
#include "core/precision.h"

namespace lory::cuda {
namespace {

cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    CUBLAS_CHECK(cublasCreate(&created));
    // The handle is never destroyed: kernels may still be queued during static teardown.
    return created;
  }();
  return h;
}

}  // namespace

void gemm(DType dt, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const void* A, int64_t lda, const void* B, int64_t ldb, float beta, void* C,
          int64_t ldc, int64_t batch, int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  if (M == 0 || N == 0 || batch == 0) return;
  cudaDataType_t type;
  cublasComputeType_t compute;
  switch (dt) {
    case DType::f32:
      type = CUDA_R_32F;
      compute = allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      break;
    case DType::bf16:
      type = CUDA_R_16BF;
      compute = CUBLAS_COMPUTE_32F;
      break;
    case DType::f64:
      type = CUDA_R_64F;
      compute = CUBLAS_COMPUTE_64F;
      break;
    default:
      LORY_FAIL("gemm: dtype ", dtype_name(dt), " is not supported on the GPU; expected f32, bf16 or f64");
  }
  // Scalars: double for f64 compute, float otherwise.
  double alpha_d = alpha, beta_d = beta;
  const void* pa = dt == DType::f64 ? static_cast<const void*>(&alpha_d) : &alpha;
  const void* pb = dt == DType::f64 ? static_cast<const void*>(&beta_d) : &beta;
  cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      handle(), op_b, op_a, static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), pa,
      B, type, static_cast<int>(ldb), stride_b, A, type, static_cast<int>(lda), stride_a, pb, C,
      type, static_cast<int>(ldc), stride_c, static_cast<int>(batch), compute,
      CUBLAS_GEMM_DEFAULT));
}

void synchronize() { CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace lory::cuda
