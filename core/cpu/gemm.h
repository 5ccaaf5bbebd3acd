// GEMM for the CPU: packed operands and a register-blocked micro-kernel (AVX2 + FMA for float32
// where the build targets it; portable C++ for float64 and other targets). Single-threaded by
// design: callers split the output into tiles and run tiles on threads, so results never depend
// on the thread count (ops/matmul.cpp, ops/lory_ffn.cpp). Design and figures: docs/cpu.md.
//
// All matrices are row-major with explicit leading dimensions (elements between rows):
//   op(A) is (M × K): A itself (lda >= K), or, with ta, A stored (K × M) (lda >= M);
//   op(B) is (K × N): B itself (ldb >= N), or, with tb, B stored (N × K) (ldb >= K);
//   C is (M × N), ldc >= N.
// The sum over K runs in a fixed order (blocks of kPackDepth in turn, each ascending), so the
// same call gives the same bits on every run and thread.
#pragma once

#include <cstdint>

namespace lory::cpu {

// C = op(A)·op(B), or C += op(A)·op(B) when accumulate. Real: float or double.
template <typename Real>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const Real* A, int64_t lda,
          const Real* B, int64_t ldb, Real* C, int64_t ldc, bool accumulate);

// op(B) packed once and used by many GEMMs (a weight shared by several row blocks, or one built
// directly in packed form). packed_b_size(K, N) floats hold it; pack_b fills them. Packing is
// linear: a weighted sum of packed matrices is the packed weighted sum (ops/lory_ffn.cpp merges
// experts this way).
//
// Layout: depth blocks of kPackDepth rows of op(B), block p0 at p0 · round_up(N, kPackWidth);
// inside a block of kc rows, panels of kPackWidth columns, the panel of column j (a multiple of
// kPackWidth) at j · kc, each kc × kPackWidth row-major, zero-padded past N. So the columns
// [j, j + n) of one depth block are themselves a packed (kc × n) matrix, found by
// packed_b_block, which gemm_packed takes with K = kc, N = n.
constexpr int64_t kPackDepth = 256, kPackWidth = 16;
int64_t packed_b_size(int64_t K, int64_t N);
inline int64_t packed_b_block(int64_t N, int64_t p0, int64_t j0, int64_t kc) {  // an offset
  return p0 * ((N + kPackWidth - 1) / kPackWidth * kPackWidth) + j0 * kc;
}
template <typename Real>
void pack_b(bool tb, int64_t K, int64_t N, const Real* B, int64_t ldb, Real* packed);
// The columns [j0, j0 + n) of op(B) (j0 a multiple of kPackWidth) into their place in pack_b's
// layout for all N columns: callers pack column ranges on several threads.
template <typename Real>
void pack_b_columns(bool tb, int64_t K, int64_t N, int64_t j0, int64_t n, const Real* B,
                    int64_t ldb, Real* packed);

// op(A) packed once for several GEMMs that share it. Layout: depth blocks of kPackDepth columns
// of op(A), block p0 at packed_a_block(M, p0); inside a block of kc, panels of kPackRows rows,
// the panel of row i (a multiple of kPackRows) at i · kc, each kc × kPackRows (k-major),
// zero-padded past M.
constexpr int64_t kPackRows = 6;
int64_t packed_a_size(int64_t M, int64_t K);
inline int64_t packed_a_block(int64_t M, int64_t p0) {  // an offset
  return p0 * ((M + kPackRows - 1) / kPackRows * kPackRows);
}
template <typename Real>
void pack_a(bool ta, int64_t M, int64_t K, const Real* A, int64_t lda, Real* packed);

// C (+)= op(A)·op(B) with both given packed (pack_a with (M, K), pack_b with (K, N)); bits equal
// to gemm's.
template <typename Real>
void gemm_packed(int64_t M, int64_t N, int64_t K, const Real* packed_a, const Real* packed_b,
                 Real* C, int64_t ldc, bool accumulate);

// C (+)= op(A)·op(B)[:, j0 : j0 + n] with op(B) given packed for all its N columns (pack_b) and A
// packed here, as gemm does; j0 a multiple of kPackWidth. Bits equal to gemm's. For row blocks
// of one product that share op(B): it is packed once instead of once per block.
template <typename Real>
void gemm_packed_b(bool ta, int64_t M, int64_t n, int64_t K, const Real* A, int64_t lda,
                   const Real* packed_b, int64_t N, int64_t j0, Real* C, int64_t ldc,
                   bool accumulate);

}  // namespace lory::cpu
