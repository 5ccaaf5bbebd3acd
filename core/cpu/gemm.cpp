// Packed GEMM (the classic blocking of Goto and van de Geijn):
//
//   for each column block of kNc columns of B        (packed B block: L3)
//     for each depth block of kKc                     (one pass over C per depth block)
//       pack B[depth block, column block] into NR-column panels
//       for each row block of kMc rows of A           (packed A block: L2)
//         pack A[row block, depth block] into MR-row panels
//         for each NR panel of B, for each MR panel of A: micro-kernel   (B panel: L1)
//
// The micro-kernel (core/cpu/micro_kernel.h) keeps an MR × NR = 6 × 16 tile of C in 12 AVX
// registers and, per step of the depth, loads 16 values of B and broadcasts 6 of A: 12 FMAs
// against 8 loads, so it runs at the FMA units' rate (measured 99 GFLOP/s on one core whose FMA
// loop peaks at 98.5).
// Edges are zero-padded in the packed panels; tiles that overhang C go through a local tile.
#include "core/cpu/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/cpu/micro_kernel.h"
#include "core/cpu/transpose.h"
#ifdef LORY_MICRO_KERNEL_AVX2
#define LORY_GEMM_AVX2 1
#endif

namespace lory::cpu {
namespace {

constexpr int64_t kMr = kPackRows, kNr = kPackWidth;  // micro-tile of C
static_assert(kMr == 6 && kNr == 16, "the AVX2 micro-kernel (core/cpu/micro_kernel.h) is 6 x 16");
constexpr int64_t kKc = kPackDepth;  // depth block: a B panel (kKc × kNr) is 16 KiB
constexpr int64_t kMc = 144;         // rows of A per packed block (144 KiB)
constexpr int64_t kNc = 1024;        // columns of B per packed block (1 MiB)

int64_t round_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}

// c (ldc) (+)= a_panel (kc × kMr, k-major) · b_panel (kc × kNr, k-major), a full 6 × 16 tile.
// Portable form (float64, and float32 on builds without AVX2): the compiler vectorises the j loop.
template <typename Real>
void micro_kernel(int64_t kc, const Real* a, const Real* b, Real* c, int64_t ldc, bool acc) {
  Real t[kMr][kNr] = {};
  for (int64_t k = 0; k < kc; ++k, a += kMr, b += kNr)
    for (int64_t i = 0; i < kMr; ++i)
      for (int64_t j = 0; j < kNr; ++j) t[i][j] += a[i] * b[j];
  for (int64_t i = 0; i < kMr; ++i, c += ldc)
    for (int64_t j = 0; j < kNr; ++j) c[j] = acc ? c[j] + t[i][j] : t[i][j];
}

#ifdef LORY_GEMM_AVX2
template <>
void micro_kernel<float>(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                         bool acc) {
  for (int64_t i = 0; i < kMr; ++i) {  // C is read at the end: start fetching it now
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kNr - 1), _MM_HINT_T0);
  }
  const Tile6x16 t = micro_6x16(kc, a, b);
  for (int64_t i = 0; i < kMr; ++i, c += ldc)
    for (int64_t h = 0; h < 2; ++h) {
      const __m256 v = acc ? _mm256_add_ps(_mm256_loadu_ps(c + 8 * h), t.c[i][h]) : t.c[i][h];
      _mm256_storeu_ps(c + 8 * h, v);
    }
}
#endif

// Packing. Full panels (kMr rows of A, kNr columns of B) take the fast paths below; edges take
// the element-wise ones. Packing only moves values, so every path gives the same
// bits.

// Rows [i0, i0+m) (m <= kMr) and depths [p0, p0+kc) of op(A), one panel (kc × kMr), zero-padded.
template <typename Real>
void pack_a_panel_any(bool ta, const Real* A, int64_t lda, int64_t i0, int64_t m, int64_t p0,
                      int64_t kc, Real* out) {
  for (int64_t k = 0; k < kc; ++k) {
    Real* dst = out + k * kMr;
    for (int64_t i = 0; i < m; ++i)
      dst[i] = ta ? A[(p0 + k) * lda + i0 + i] : A[(i0 + i) * lda + p0 + k];
    for (int64_t i = m; i < kMr; ++i) dst[i] = Real(0);
  }
}

// Depths [p0, p0+kc) and columns [j0, j0+n) (n <= kNr) of op(B), one panel (kc × kNr).
template <typename Real>
void pack_b_panel_any(bool tb, const Real* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                      int64_t n, Real* out) {
  for (int64_t k = 0; k < kc; ++k) {
    Real* dst = out + k * kNr;
    for (int64_t j = 0; j < n; ++j)
      dst[j] = tb ? B[(j0 + j) * ldb + p0 + k] : B[(p0 + k) * ldb + j0 + j];
    for (int64_t j = n; j < kNr; ++j) dst[j] = Real(0);
  }
}

// Full panels where the source runs across the panel (A as stored, B transposed): 8 depths at a
// time are read along the source's rows and transposed in registers (float32, AVX2); otherwise
// one value at a time.
template <typename Real>
void pack_a_panel_across(const Real* A, int64_t lda, int64_t i0, int64_t p0, int64_t kc,
                         Real* out) {
  pack_a_panel_any(false, A, lda, i0, kMr, p0, kc, out);
}

template <typename Real>
void pack_b_panel_across(const Real* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                         Real* out) {
  pack_b_panel_any(true, B, ldb, p0, kc, j0, kNr, out);
}

#ifdef LORY_GEMM_AVX2
template <>
void pack_a_panel_across<float>(const float* A, int64_t lda, int64_t i0, int64_t p0, int64_t kc,
                                float* out) {
  const float* src = A + i0 * lda + p0;  // six rows of A, each contiguous along the depth
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    __m256 r[8];
    for (int64_t i = 0; i < kMr; ++i) r[i] = _mm256_loadu_ps(src + i * lda + k);
    r[6] = r[7] = _mm256_setzero_ps();
    transpose8(r);  // r[kk] = the six values of depth k + kk, then two zeros
    float* dst = out + k * kMr;
    for (int kk = 0; kk < 7; ++kk) _mm256_storeu_ps(dst + kk * kMr, r[kk]);  // next overwrites
    _mm_storeu_ps(dst + 7 * kMr, _mm256_castps256_ps128(r[7]));  // the last: 4 + 2 values
    _mm_storel_pi(reinterpret_cast<__m64*>(dst + 7 * kMr + 4), _mm256_extractf128_ps(r[7], 1));
  }
  pack_a_panel_any(false, A, lda, i0, kMr, p0 + k, kc - k, out + k * kMr);
}

template <>
void pack_b_panel_across<float>(const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                                float* out) {
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8)  // sixteen rows of B, each contiguous along the depth
    for (int64_t h = 0; h < kNr; h += 8) {
      __m256 r[8];
      for (int64_t j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(B + (j0 + h + j) * ldb + p0 + k);
      transpose8(r);  // r[kk] = columns h..h+7 at depth k + kk
      for (int64_t kk = 0; kk < 8; ++kk) _mm256_storeu_ps(out + (k + kk) * kNr + h, r[kk]);
    }
  pack_b_panel_any(true, B, ldb, p0 + k, kc - k, j0, kNr, out + k * kNr);
}
#endif

// Full panels. Where the source runs along the panel's rows (A transposed, B as stored), each row
// of the panel is one fixed-size copy, its source rows far apart: they are fetched kAhead rows
// ahead (the hardware prefetcher stops at page boundaries).
constexpr int64_t kAhead = 16;

// kc rows of Width values, ld apart in the source, into a panel (row k at out + k·Width).
template <int64_t Width, typename Real>
void copy_panel_rows(const Real* src, int64_t ld, int64_t kc, Real* out) {
  for (int64_t k = 0; k < kc; ++k, src += ld) {
    __builtin_prefetch(src + kAhead * ld);
    std::memcpy(out + k * Width, src, Width * sizeof(Real));
  }
}

template <typename Real>
void pack_a_panel(bool ta, const Real* A, int64_t lda, int64_t i0, int64_t p0, int64_t kc,
                  Real* out) {
  if (!ta) return pack_a_panel_across(A, lda, i0, p0, kc, out);
  copy_panel_rows<kMr>(A + p0 * lda + i0, lda, kc, out);
}

template <typename Real>
void pack_b_panel(bool tb, const Real* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  Real* out) {
  if (tb) return pack_b_panel_across(B, ldb, p0, kc, j0, out);
  copy_panel_rows<kNr>(B + p0 * ldb + j0, ldb, kc, out);
}

// Rows [i0, i0+mc) and depths [p0, p0+kc) of op(A), as ceil(mc/kMr) panels of (kc × kMr).
template <typename Real>
void pack_a_block(bool ta, const Real* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                  int64_t kc, Real* out) {
  for (int64_t ir = 0; ir < mc; ir += kMr, out += kc * kMr) {
    if (mc - ir >= kMr)
      pack_a_panel(ta, A, lda, i0 + ir, p0, kc, out);
    else
      pack_a_panel_any(ta, A, lda, i0 + ir, mc - ir, p0, kc, out);
  }
}

// Depths [p0, p0+kc) and columns [j0, j0+nc) of op(B), as ceil(nc/kNr) panels of (kc × kNr).
template <typename Real>
void pack_b_block(bool tb, const Real* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nc, Real* out) {
  for (int64_t jr = 0; jr < nc; jr += kNr, out += kc * kNr) {
    if (nc - jr >= kNr)
      pack_b_panel(tb, B, ldb, p0, kc, j0 + jr, out);
    else
      pack_b_panel_any(tb, B, ldb, p0, kc, j0 + jr, nc - jr, out);
  }
}

// C[0:m, 0:n] (+)= (packed m × kc block of op(A)) · (packed kc × n block of op(B)).
template <typename Real>
void macro_kernel(int64_t m, int64_t n, int64_t kc, const Real* ablock, const Real* bblock, Real* C,
                  int64_t ldc, bool acc) {
  for (int64_t jr = 0; jr < n; jr += kNr) {
    const Real* bp = bblock + jr * kc;  // panel jr / kNr: kc × kNr values
    const int64_t nn = std::min(kNr, n - jr);
    for (int64_t ir = 0; ir < m; ir += kMr) {
      const Real* ap = ablock + ir * kc;
      Real* c = C + ir * ldc + jr;
      const int64_t mm = std::min(kMr, m - ir);
      if (mm == kMr && nn == kNr) {
        micro_kernel(kc, ap, bp, c, ldc, acc);
        continue;
      }
      Real t[kMr * kNr];  // an overhanging tile: compute in full, keep the part inside C
      micro_kernel(kc, ap, bp, t, kNr, false);
      for (int64_t i = 0; i < mm; ++i)
        for (int64_t j = 0; j < nn; ++j)
          c[i * ldc + j] = acc ? c[i * ldc + j] + t[i * kNr + j] : t[i * kNr + j];
    }
  }
}

// C[0:M, 0:n] (+)= op(A)[0:M, p0:p0+kc] · (packed block of kc × n), A packed kMc rows at a time.
template <typename Real>
void depth_block(bool ta, int64_t M, int64_t n, int64_t p0, int64_t kc, const Real* A, int64_t lda,
                 const Real* bblock, Real* C, int64_t ldc, bool acc, Real* abuf) {
  for (int64_t i0 = 0; i0 < M; i0 += kMc) {
    const int64_t mc = std::min(kMc, M - i0);
    pack_a_block(ta, A, lda, i0, mc, p0, kc, abuf);
    macro_kernel(mc, n, kc, abuf, bblock, C + i0 * ldc, ldc, acc);
  }
}

// Per-thread packing buffers, allocated once (GEMMs run inside parallel regions), 64-byte aligned
// so that each 16-float row of a B panel is one cache line.
template <typename Real>
struct AlignedBuffer {
  explicit AlignedBuffer(int64_t n)
      : data(static_cast<Real*>(std::aligned_alloc(64, static_cast<size_t>(n) * sizeof(Real)))) {}
  ~AlignedBuffer() { std::free(data); }
  Real* data;
};

template <typename Real>
Real* a_buffer() {
  thread_local AlignedBuffer<Real> buf(kMc * kKc);
  return buf.data;
}

template <typename Real>
Real* b_buffer() {
  thread_local AlignedBuffer<Real> buf(kKc * kNc);
  return buf.data;
}

template <typename Real>
void zero_or_keep(int64_t M, int64_t N, Real* C, int64_t ldc, bool accumulate) {
  if (accumulate) return;
  for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, Real(0));
}

}  // namespace

template <typename Real>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const Real* A, int64_t lda,
          const Real* B, int64_t ldb, Real* C, int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return zero_or_keep(M, N, C, ldc, accumulate);
  Real* abuf = a_buffer<Real>();
  Real* bbuf = b_buffer<Real>();
  for (int64_t j0 = 0; j0 < N; j0 += kNc) {
    const int64_t nc = std::min(kNc, N - j0);
    for (int64_t p0 = 0; p0 < K; p0 += kKc) {
      const int64_t kc = std::min(kKc, K - p0);
      pack_b_block(tb, B, ldb, p0, kc, j0, nc, bbuf);
      depth_block(ta, M, nc, p0, kc, A, lda, bbuf, C + j0, ldc, accumulate || p0 > 0, abuf);
    }
  }
}

int64_t packed_b_size(int64_t K, int64_t N) {
  return K * round_up(N, kNr);
}

// Layout: depth blocks of kKc one after another (block p0 starts at p0 · Npad), each holding the
// NR-column panels of that block (panel jr at jr · kc): exactly what gemm packs per block.
template <typename Real>
void pack_b(bool tb, int64_t K, int64_t N, const Real* B, int64_t ldb, Real* packed) {
  const int64_t npad = round_up(N, kNr);
  for (int64_t p0 = 0; p0 < K; p0 += kKc)
    pack_b_block(tb, B, ldb, p0, std::min(kKc, K - p0), 0, N, packed + p0 * npad);
}

template <typename Real>
void pack_b_columns(bool tb, int64_t K, int64_t N, int64_t j0, int64_t n, const Real* B,
                    int64_t ldb, Real* packed) {
  const int64_t npad = round_up(N, kNr);
  for (int64_t p0 = 0; p0 < K; p0 += kKc) {
    const int64_t kc = std::min(kKc, K - p0);
    pack_b_block(tb, B, ldb, p0, kc, j0, n, packed + p0 * npad + j0 * kc);
  }
}

template <typename Real>
void gemm_packed_b(bool ta, int64_t M, int64_t n, int64_t K, const Real* A, int64_t lda,
                   const Real* packed_b, int64_t N, int64_t j0, Real* C, int64_t ldc,
                   bool accumulate) {
  if (M <= 0 || n <= 0) return;
  if (K <= 0) return zero_or_keep(M, n, C, ldc, accumulate);
  Real* abuf = a_buffer<Real>();
  for (int64_t p0 = 0; p0 < K; p0 += kKc) {
    const int64_t kc = std::min(kKc, K - p0);
    depth_block(ta, M, n, p0, kc, A, lda, packed_b + packed_b_block(N, p0, j0, kc), C, ldc,
                accumulate || p0 > 0, abuf);
  }
}

int64_t packed_a_size(int64_t M, int64_t K) {
  return round_up(M, kMr) * K;
}

template <typename Real>
void pack_a(bool ta, int64_t M, int64_t K, const Real* A, int64_t lda, Real* packed) {
  for (int64_t p0 = 0; p0 < K; p0 += kKc)
    pack_a_block(ta, A, lda, 0, M, p0, std::min(kKc, K - p0), packed + packed_a_block(M, p0));
}

template <typename Real>
void gemm_packed(int64_t M, int64_t N, int64_t K, const Real* packed_a, const Real* packed_b,
                 Real* C, int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return zero_or_keep(M, N, C, ldc, accumulate);
  for (int64_t p0 = 0; p0 < K; p0 += kKc)
    macro_kernel(M, N, std::min(kKc, K - p0), packed_a + packed_a_block(M, p0),
                 packed_b + packed_b_block(N, p0, 0, 0), C, ldc, accumulate || p0 > 0);
}

#define LORY_GEMM_INSTANTIATE(Real)                                                           \
  template void gemm<Real>(bool, bool, int64_t, int64_t, int64_t, const Real*, int64_t,       \
                           const Real*, int64_t, Real*, int64_t, bool);                       \
  template void pack_b<Real>(bool, int64_t, int64_t, const Real*, int64_t, Real*);            \
  template void pack_b_columns<Real>(bool, int64_t, int64_t, int64_t, int64_t, const Real*,   \
                                     int64_t, Real*);                                         \
  template void gemm_packed_b<Real>(bool, int64_t, int64_t, int64_t, const Real*, int64_t,    \
                                    const Real*, int64_t, int64_t, Real*, int64_t, bool);     \
  template void pack_a<Real>(bool, int64_t, int64_t, const Real*, int64_t, Real*);            \
  template void gemm_packed<Real>(int64_t, int64_t, int64_t, const Real*, const Real*, Real*, \
                                  int64_t, bool);
LORY_GEMM_INSTANTIATE(float)
LORY_GEMM_INSTANTIATE(double)
#undef LORY_GEMM_INSTANTIATE

}  // namespace lory::cpu
