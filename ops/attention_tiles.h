// Register-tiled matrix products for causal_attention's CPU kernels. Its products are small
// (a 64-row query block against at most Lk keys, Dh = 64), where Eigen's packed GEMM spends much
// of its time packing (~30 GFLOP/s of a ~98 GFLOP/s core); these read the operands in place and
// keep a 6-row × 2-packet tile of the output in registers. Every output element is one FMA chain
// over p = 0, 1, ... in order, whatever tile computes it, so results depend only on the shapes.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace lory::ops::attn {

template <typename T>
using Packet = typename Eigen::internal::packet_traits<T>::type;
template <typename T>
constexpr int64_t kWidth = Eigen::internal::packet_traits<T>::size;

// A row count or shift that never limits anything (see product()).
constexpr int64_t kNoLimit = int64_t{1} << 40;

// The left operand: element (i, p) at a[i * rs + p * cs] (rs = lda, cs = 1 for a row-major
// matrix; rs = 1, cs = lda for the transpose of one).
template <typename T>
struct Lhs {
  const T* a;
  int64_t rs, cs;
  T operator()(int64_t i, int64_t p) const { return a[i * rs + p * cs]; }
};

// Output rows [i, i + MR), columns [j, j + NP·W): c = alpha · Σ_{p < k} A(i, p) B(p, j) (+ c).
template <typename T, int MR, int NP>
inline void tile(const Lhs<T>& A, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t i,
                 int64_t j, int64_t k, T alpha, bool accumulate) {
  namespace pk = Eigen::internal;
  using P = Packet<T>;
  constexpr int64_t W = kWidth<T>;
  P acc[MR][NP];
  for (int r = 0; r < MR; ++r)
    for (int q = 0; q < NP; ++q) acc[r][q] = pk::pset1<P>(T(0));
  for (int64_t p = 0; p < k; ++p) {
    P bp[NP];
    for (int q = 0; q < NP; ++q) bp[q] = pk::ploadu<P>(b + p * ldb + j + q * W);
    for (int r = 0; r < MR; ++r) {
      const P a = pk::pset1<P>(A(i + r, p));
      for (int q = 0; q < NP; ++q) acc[r][q] = pk::pmadd(a, bp[q], acc[r][q]);
    }
  }
  const P al = pk::pset1<P>(alpha);
  for (int r = 0; r < MR; ++r)
    for (int q = 0; q < NP; ++q) {
      T* cp = c + (i + r) * ldc + j + q * W;
      P out = pk::pmul(al, acc[r][q]);
      if (accumulate) out = pk::padd(pk::ploadu<P>(cp), out);
      pk::pstoreu(cp, out);
    }
}

// Columns [j0, j1) of rows [i, i + rows) one element at a time (the last n mod W columns).
template <typename T>
inline void tile_scalar(const Lhs<T>& A, const T* b, int64_t ldb, T* c, int64_t ldc, int64_t i,
                        int64_t rows, int64_t j0, int64_t j1, int64_t k, T alpha, bool accumulate) {
  for (int64_t r = i; r < i + rows; ++r)
    for (int64_t j = j0; j < j1; ++j) {
      T acc = 0;
      for (int64_t p = 0; p < k; ++p) acc = std::fma(A(r, p), b[p * ldb + j], acc);
      c[r * ldc + j] = accumulate ? c[r * ldc + j] + alpha * acc : alpha * acc;
    }
}

// C (m × n, row-major, ldc) = alpha · A (m × k) · B (k × n, row-major, ldb), or += with
// accumulate. Causal limits: output row i needs only columns j < i + 1 + n_shift and only terms
// p < i + 1 + k_shift (kNoLimit: all). A tile computes its columns if any of its rows needs one
// (the extra ones are the caller's to mask); columns no row needs are left unwritten. Terms a
// tile skips must be zero in A: then skipping them changes no bit (an FMA adding 0 · b returns
// its accumulator). Column panels are the outer loop, so a k × 2W panel of B stays in L1 while
// every row tile passes over it; with ldb a multiple of 256 bytes its rows would share few L1
// sets, so callers pad ldb (kPad).
template <typename T>
void product(int64_t m, int64_t n, int64_t k, T alpha, const Lhs<T>& A, const T* b, int64_t ldb,
             T* c, int64_t ldc, bool accumulate, int64_t n_shift = kNoLimit,
             int64_t k_shift = kNoLimit) {
  constexpr int64_t W = kWidth<T>;
  auto n_end = [&](int64_t last_row) { return std::min(n, last_row + 1 + n_shift); };
  auto k_end = [&](int64_t last_row) { return std::min(k, last_row + 1 + k_shift); };
  // Columns [j, j + NP·W) of every row tile that needs one of them. Rows go in tiles of 6
  // (12 accumulators + 2 B packets + 1 broadcast fill the 16 AVX registers), the rest in 4, 2, 1.
  auto panel = [&](auto np, int64_t j) {
    constexpr int NP = decltype(np)::value;
    for (int64_t i = 0, rows; i < m; i += rows) {
      rows = m - i >= 6 ? 6 : m - i >= 4 ? 4 : m - i >= 2 ? 2 : 1;
      const int64_t last = i + rows - 1;
      if (j >= n_end(last)) continue;
      const int64_t kt = k_end(last);
      if (rows == 6) tile<T, 6, NP>(A, b, ldb, c, ldc, i, j, kt, alpha, accumulate);
      else if (rows == 4) tile<T, 4, NP>(A, b, ldb, c, ldc, i, j, kt, alpha, accumulate);
      else if (rows == 2) tile<T, 2, NP>(A, b, ldb, c, ldc, i, j, kt, alpha, accumulate);
      else tile<T, 1, NP>(A, b, ldb, c, ldc, i, j, kt, alpha, accumulate);
    }
  };
  int64_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) panel(std::integral_constant<int, 2>(), j);
  if (j + W <= n) {
    panel(std::integral_constant<int, 1>(), j);
    j += W;
  }
  if (j < n)  // the last n mod W columns, one element at a time
    for (int64_t i = 0; i < m; ++i)
      if (j < n_end(i)) tile_scalar<T>(A, b, ldb, c, ldc, i, 1, j, n, k_end(i), alpha, accumulate);
}

// Row padding (elements) of the buffers callers build for B: one cache line, see product().
constexpr int64_t kPad = 16;

// dst (rows × cols, row stride ldd) = src (rows × cols, row stride lds).
template <typename T>
void copy_rows(const T* src, int64_t rows, int64_t cols, int64_t lds, T* dst, int64_t ldd) {
  for (int64_t r = 0; r < rows; ++r) std::copy(src + r * lds, src + r * lds + cols, dst + r * ldd);
}

}  // namespace lory::ops::attn
