// lory_ffn: forward and backward of the merged, segment-routed SwiGLU FFN (LORY.md §2).
//
// Segment s = (b, k) covers rows [b·L + kT, b·L + min(L, (k+1)T)) of x viewed as (B·L, D).
// Forward, per segment:   Wbar_m = Σ_i r[s,i] W_m[i]   (m = 1, 3, 2)
//                         a = x·Wbar1, g = x·Wbar3, h = silu(a) ⊙ g, y = h·Wbar2
// Backward, per segment (G_m = ∂L/∂Wbar_m, an ordinary weight gradient of that segment):
//   dh  = dy·Wbar2ᵀ                 G2 = hᵀ·dy
//   da  = dh ⊙ g ⊙ silu'(a)         dg = dh ⊙ silu(a),   silu'(a) = σ(a)(1 + a(1 − σ(a)))
//   G1  = xᵀ·da    G3 = xᵀ·dg       dx = da·Wbar1ᵀ + dg·Wbar3ᵀ
// and through the merge:
//   ∂L/∂r[s,i]  = Σ_m ⟨G_m[s], W_m[i]⟩
//   ∂L/∂W_m[i] += Σ_s r[s,i] G_m[s]
//
// CPU schedule (tile-major; no merged weight and no G is ever stored whole):
// - Products with merged weights (a, g, y; dh, dx) are cut into fixed column tiles of the
//   output. A task owns a tile and walks the depth blocks and, inside, the segments kMergeGroup
//   at a time: it merges their tiles of Wbar (kPackDepth × kTile each) from one read of the
//   experts' tiles, which stay in L2 for the whole walk, and multiplies at once. The experts are
//   read from memory once per call.
//   The merge runs in the GEMM's packed layout (core/cpu/gemm.h): the task packs its tile of
//   each expert into cache, and as packing is linear, Σ_i r[s,i]·pack(W[i]) = pack(Wbar) is ready
//   for the micro-kernel (forward packs op(B) = W, backward op(B) = Wᵀ). (Merging straight from
//   the experts as stored measured 2x slower: E rows a power of two apart share L1 sets. Packing
//   all experts once per call into a buffer wrote and re-read their size in memory: 2.5-4%
//   slower.)
// - SwiGLU's element-wise passes run segment by segment and pack their results for the next
//   merged product while they are in cache.
// - Gradients through the merge are cut into fixed (kGradRows × kGradCols) tiles of G_m. In the
//   fused schedule (float32, AVX2) each 6 × 16 micro-tile of G_m[s] is folded into the E
//   expert-gradient tiles and the router dot products while still in registers; otherwise a
//   task computes its tile of G_m[s] for a group of segments into a buffer and folds it
//   (merge_gradients_fused / merge_gradients_grouped, ops/lory_ffn_kernels.h).
// Every output value is written by one task, sums run in a fixed order, and dr's per-tile
// partial sums are added in tile order: results never depend on the thread count.
#include "ops/lory_ffn.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/autograd.h"
#include "core/cpu/aligned_vector.h"
#include "core/cpu/gemm.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/lory_ffn.h"
#include "ops/lory_ffn_kernels.h"
#include "ops/vec_math.h"

namespace lory::ops {
namespace {

constexpr int64_t kTile = 16;       // output columns per merged-product task: E expert tiles of
                                    // kPackDepth × kTile are 128 KiB at E = 8, in L2; D = 256
                                    // gives 16 tasks (32 columns: 8, too few to even out two
                                    // threads on a busy machine)
constexpr int64_t kGradRows = 72;   // G tiles (whole micro-tiles: rows a multiple of 6, columns
constexpr int64_t kGradCols = 64;   // of 16)
constexpr int64_t kMergeGroup = 6;  // segments merged from one read of the experts' tile

struct Dims {
  int64_t B, L, D, F, E, T, N;
  int64_t segments() const { return B * N; }
  int64_t first_row(int64_t s) const { return (s / N) * L + (s % N) * T; }
  int64_t rows(int64_t s) const { return std::min(L, (s % N + 1) * T) - (s % N) * T; }
};

// Runs fn(task) for every task in [0, n), tasks handed out to threads dynamically: a task's result
// never depends on which thread runs it, and on a loaded machine a slow thread is not left
// holding a fixed share.
template <typename Fn>
void parallel_tasks(int64_t n, Fn&& fn) {
#ifdef LORY_WITH_OPENMP
  const int threads = num_threads();
  if (threads > 1 && n > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t t = 0; t < n; ++t) fn(t);
    return;
  }
#endif
  for (int64_t t = 0; t < n; ++t) fn(t);
}

// Each segment's rows of A (rows × K) packed for the micro-kernel (cpu::pack_a), segment s at
// s · segment_pack(d, K): the packing is done once per product, not once per column tile.
int64_t segment_pack(const Dims& d, int64_t K) {
  return cpu::packed_a_size(std::min(d.T, d.L), K);
}

template <typename Real>
void pack_segments(const Dims& d, const Real* A, int64_t K, Real* out) {
  parallel_tasks(d.segments(), [&](int64_t s) {
    cpu::pack_a<Real>(false, d.rows(s), K, A + d.first_row(s) * K, K, out + s * segment_pack(d, K));
  });
}

// One task's tile of the E experts: columns [j0, j0 + nb) and depths [p0, p0 + kc) of op(W_i)
// (op(W_i) = W_i (K × N) as stored, or W_iᵀ with W_i stored (N × K)), each packed for the
// micro-kernel (kc × kTile, zero-padded) at out + i·stride. Packed in the task that uses it, the
// tile goes from the experts straight into cache: no packed copy of all experts is written to
// memory and read back. stride is the tile's size plus one cache line: tiles a multiple of 4 KiB
// apart would share L1 and L2 sets, and the merge reads the same offset in all E of them.
template <typename Real>
int64_t expert_tile_stride() {
  return cpu::kPackDepth * kTile + 64 / static_cast<int64_t>(sizeof(Real));
}

template <typename Real>
void pack_expert_tiles(const Dims& d, const Real* w, bool transpose, int64_t K, int64_t N,
                       int64_t p0, int64_t kc, int64_t j0, int64_t nb, Real* out) {
  const int64_t stride = expert_tile_stride<Real>();
  for (int64_t i = 0; i < d.E; ++i) {
    const Real* wi = w + i * K * N;
    if (transpose)
      cpu::pack_b<Real>(true, kc, nb, wi + j0 * K + p0, K, out + i * stride);
    else
      cpu::pack_b<Real>(false, kc, nb, wi + p0 * N + j0, N, out + i * stride);
  }
}

// For every segment s: C_s (+)= A_s · Wbar_s, where A_s are the segment's rows of A (given packed
// by pack_segments), Wbar_s = Σ_i r[s,i]·op(W_i) is (K × N) and w holds the E experts W_i
// (op(W_i) = W_i, or W_iᵀ with transpose). Tasks are fixed column tiles of C; see the top of the
// file.
template <typename Real>
void merged_product(const Dims& d, const Real* route, const Real* w, bool transpose, int64_t K,
                    int64_t N, const Real* a_packed, Real* C, int64_t ldc, bool accumulate) {
  const int64_t tiles = (N + kTile - 1) / kTile, stride = expert_tile_stride<Real>();
  parallel_tasks(tiles, [&](int64_t t) {
    thread_local cpu::AlignedVector<Real> experts, merged;  // rows on cache lines
    experts.resize(static_cast<size_t>(d.E * stride));
    merged.resize(static_cast<size_t>(kMergeGroup * cpu::kPackDepth * kTile));
    const int64_t j0 = t * kTile, nb = std::min(kTile, N - j0);
    for (int64_t p0 = 0; p0 < K; p0 += cpu::kPackDepth) {
      const int64_t kc = std::min(cpu::kPackDepth, K - p0);
      pack_expert_tiles(d, w, transpose, K, N, p0, kc, j0, nb, experts.data());
      const int64_t size = kc * kTile;  // one packed tile, padding included
      for (int64_t s0 = 0; s0 < d.segments(); s0 += kMergeGroup) {
        // Merge the tiles of kMergeGroup segments from one read of the experts, then use them.
        const int64_t sg = std::min(kMergeGroup, d.segments() - s0);
        lory_kernels::merge(d.E, sg, route + s0 * d.E, experts.data(), stride, size, merged.data());
        for (int64_t j = 0; j < sg; ++j) {
          const int64_t s = s0 + j, n = d.rows(s);
          const Real* a = a_packed + s * segment_pack(d, K) + cpu::packed_a_block(n, p0);
          cpu::gemm_packed<Real>(n, nb, kc, a, merged.data() + j * size,
                                 C + d.first_row(s) * ldc + j0, ldc, accumulate || p0 > 0);
        }
      }
    }
  });
}

// Gradients through the merge of one matrix W (E experts of M × N, row-major), whose per-segment
// gradient is G_s = A_sᵀ·B_s (A_s, B_s: the segment's rows of A (rows × M) and B (rows × N)):
//   dw[i] = Σ_s r[s,i] G_s   (dw may be null; written, not accumulated)
//   partial[(tile·S + s)·E + i] = ⟨G_s, W_i⟩ over the tile   (partial may be null)
// Tasks are fixed (kGradRows × kGradCols) tiles of G, tile t at rows t / col_tiles. Two schedules
// compute them:
// - fused (float32 with AVX2, segments of at most kPackDepth rows): every 6 × 16 micro-tile of G_s
//   is dotted with the experts' tiles while still in registers, the segments walked innermost,
//   and each kFoldGroup segments' micro-tiles are folded into the expert gradients from L1
//   (lory_kernels::micro_tile_dots, fold_segments); G is never stored beyond that.
// - grouped (float64, other targets, longer segments): G tiles of kGroup segments are computed
//   into a buffer, then folded (lory_kernels::fold_gradients, fold_dots).
template <typename Real>
bool fused_folds(const Dims& d) {
#ifdef LORY_LORY_KERNELS_AVX2
  return std::is_same_v<Real, float> && std::min(d.T, d.L) <= cpu::kPackDepth;
#else
  (void)d;
  return false;
#endif
}

// Operands of the grouped schedule: each segment's A_s packed as op(A) = A_sᵀ (M × rows), segment
// s at s · transposed_pack(d, M); B_s as op(B) (rows × N) likewise.
int64_t transposed_pack(const Dims& d, int64_t M) {
  return cpu::packed_a_size(M, std::min(d.T, d.L));
}

template <typename Real>
void pack_segments_transposed(const Dims& d, const Real* A, int64_t M, Real* out) {
  parallel_tasks(d.segments(), [&](int64_t s) {
    cpu::pack_a<Real>(true, M, d.rows(s), A + d.first_row(s) * M, M,
                      out + s * transposed_pack(d, M));
  });
}

// Operands of the fused schedule, panel-major: op(A) = Aᵀ in panels of kPackRows rows over all
// B·L rows of A (panel p at p · B·L · kPackRows), B in panels of kPackWidth columns (panel q at
// q · B·L · kPackWidth). Segment s's part of a panel starts at its first row, so one panel over
// consecutive segments is one stream through memory.
int64_t row_panels_size(const Dims& d, int64_t M) {
  return cpu::packed_a_size(M, d.B * d.L);
}

template <typename Real>
void pack_row_panels(const Dims& d, const Real* A, int64_t M, Real* out) {
  const int64_t R = d.B * d.L, panels = (M + cpu::kPackRows - 1) / cpu::kPackRows;
  parallel_tasks(panels, [&](int64_t p) {  // one panel is a packed (≤ kPackRows × R) matrix
    const int64_t i = p * cpu::kPackRows;
    cpu::pack_a<Real>(true, std::min(cpu::kPackRows, M - i), R, A + i, M, out + i * R);
  });
}

template <typename Real>
void pack_column_panels(const Dims& d, const Real* B, int64_t N, Real* out) {
  const int64_t R = d.B * d.L, panels = (N + cpu::kPackWidth - 1) / cpu::kPackWidth;
  parallel_tasks(panels, [&](int64_t q) {  // one panel is a packed (R × ≤ kPackWidth) matrix
    const int64_t j = q * cpu::kPackWidth;
    cpu::pack_b<Real>(false, R, std::min(cpu::kPackWidth, N - j), B + j, N, out + j * R);
  });
}

#ifdef LORY_LORY_KERNELS_AVX2
// The fused schedule (apanels: pack_row_panels of A). In a task, column panels run outside and
// row panels inside, so a column panel's B (all segments) stays in L2 while the row panels pass.
// Each micro-tile of the E experts' W is copied out (zero-padded past the edges of G), and dW
// summed, in contiguous tiles for the walk over all segments: in place, their rows and experts
// lie a power of two apart and would share L1 sets.
// The micro-tiles of G of kFoldGroup segments (12 KiB) wait in L1 for their fold.
constexpr int64_t kFoldGroup = 32;

void merge_gradients_fused(const Dims& d, const float* route, const float* apanels, int64_t M,
                           const float* Bm, int64_t N, const float* w, float* dw, float* partial) {
  constexpr int64_t kMicro = lory_kernels::kMicroTile;
  const int64_t S = d.segments(), R = d.B * d.L;
  Tensor bpanels_t = Tensor::empty({cpu::packed_b_size(R, N)}, DType::f32);
  float* bpanels = bpanels_t.data<float>();
  pack_column_panels(d, Bm, N, bpanels);
  const int64_t col_tiles = (N + kGradCols - 1) / kGradCols;
  const int64_t tiles = (M + kGradRows - 1) / kGradRows * col_tiles;
  parallel_tasks(tiles, [&](int64_t t) {
    thread_local cpu::AlignedVector<float> lanes, wt, dwt, gt;
    lanes.assign(static_cast<size_t>(S * d.E * 8), 0.0f);
    wt.resize(static_cast<size_t>(d.E * kMicro));
    dwt.resize(static_cast<size_t>(d.E * kMicro));
    gt.resize(static_cast<size_t>(kFoldGroup * kMicro));
    const int64_t r0 = t / col_tiles * kGradRows, c0 = t % col_tiles * kGradCols;
    const int64_t r1 = std::min(M, r0 + kGradRows), c1 = std::min(N, c0 + kGradCols);
    for (int64_t j = c0; j < c1; j += cpu::kPackWidth)
      for (int64_t i = r0; i < r1; i += cpu::kPackRows) {
        const int64_t mm = std::min(cpu::kPackRows, r1 - i), nn = std::min(cpu::kPackWidth, c1 - j);
        if (partial)
          lory_kernels::copy_micro_tiles(d.E, w + i * N + j, N, M * N, mm, nn, wt.data());
        const float* a = apanels + i * R;  // this row panel, all segments
        const float* b = bpanels + j * R;  // this column panel, all segments
        for (int64_t s0 = 0; s0 < S; s0 += kFoldGroup) {
          const int64_t sg = std::min(kFoldGroup, S - s0);
          for (int64_t s = s0; s < s0 + sg; ++s) {
            const int64_t r = d.first_row(s);
            lory_kernels::micro_tile_dots(
                d.rows(s), a + r * cpu::kPackRows, b + r * cpu::kPackWidth, d.E, wt.data(),
                gt.data() + (s - s0) * kMicro, partial ? lanes.data() + s * d.E * 8 : nullptr);
          }
          if (dw)
            lory_kernels::fold_segments(d.E, sg, route + s0 * d.E, gt.data(), dwt.data(), s0 > 0);
        }
        if (dw) lory_kernels::store_micro_tiles(d.E, dwt.data(), mm, nn, dw + i * N + j, N, M * N);
      }
    if (partial)
      for (int64_t k = 0; k < S * d.E; ++k)
        partial[t * S * d.E + k] = lory_kernels::sum_lanes(lanes.data() + k * 8);
  });
}
#endif

// The grouped schedule (apack: pack_segments_transposed of A). Every segment's B_s is packed
// once; a task takes the segments kGroup at a time: their G tiles, then the folds.
template <typename Real>
void merge_gradients_grouped(const Dims& d, const Real* route, const Real* apack, int64_t M,
                             const Real* Bm, int64_t N, const Real* w, Real* dw, Real* partial) {
  constexpr int64_t kGroup = 8, kSkew = 16;
  const int64_t S = d.segments(), a_size = transposed_pack(d, M);
  const int64_t b_size = cpu::packed_b_size(std::min(d.T, d.L), N);
  if (dw) std::fill(dw, dw + d.E * M * N, Real(0));
  Tensor packs = Tensor::empty({S * b_size}, dtype_of<Real>());
  Real* bpack = packs.data<Real>();
  parallel_tasks(S, [&](int64_t s) {
    cpu::pack_b<Real>(false, d.rows(s), N, Bm + d.first_row(s) * N, N, bpack + s * b_size);
  });
  const int64_t col_tiles = (N + kGradCols - 1) / kGradCols;
  const int64_t tiles = (M + kGradRows - 1) / kGradRows * col_tiles;
  parallel_tasks(tiles, [&](int64_t t) {
    thread_local cpu::AlignedVector<Real> gbuf;
    // G tiles kSkew values apart beyond their size: tiles a power of two apart would share L1
    // sets, and the folds read all of them at once.
    const int64_t stride = kGradRows * kGradCols + kSkew;
    gbuf.resize(static_cast<size_t>(kGroup * stride));
    const int64_t r0 = t / col_tiles * kGradRows, c0 = t % col_tiles * kGradCols;
    const int64_t mb = std::min(kGradRows, M - r0), nb = std::min(kGradCols, N - c0);
    const lory_kernels::Tile tile{mb, nb, stride, N, M * N};
    for (int64_t s0 = 0; s0 < S; s0 += kGroup) {
      const int64_t sg = std::min(kGroup, S - s0);
      for (int64_t j = 0; j < sg; ++j) {  // G tile of segment s0 + j at gbuf + j·stride
        const int64_t n = d.rows(s0 + j);
        for (int64_t p0 = 0; p0 < n; p0 += cpu::kPackDepth) {
          const int64_t kc = std::min(cpu::kPackDepth, n - p0);
          cpu::gemm_packed<Real>(mb, nb, kc,
                                 apack + (s0 + j) * a_size + cpu::packed_a_block(M, p0) + r0 * kc,
                                 bpack + (s0 + j) * b_size + cpu::packed_b_block(N, p0, c0, kc),
                                 gbuf.data() + j * stride, nb, p0 > 0);
        }
      }
      if (dw)
        lory_kernels::fold_gradients(tile, d.E, sg, route + s0 * d.E, gbuf.data(),
                                     dw + r0 * N + c0);
      if (partial)
        lory_kernels::fold_dots(tile, d.E, sg, gbuf.data(), w + r0 * N + c0,
                                partial + (t * S + s0) * d.E);
    }
  });
}

int64_t grad_tiles(int64_t M, int64_t N) {
  return (M + kGradRows - 1) / kGradRows * ((N + kGradCols - 1) / kGradCols);
}

// SwiGLU's element-wise passes, segment by segment (a task per segment), in fixed blocks of
// kBlock values: one vectorised sigmoid per block (ops/vec_math.h) into a stack buffer, then a
// loop the compiler vectorises. Each segment's result is packed for the next merged product
// (pack_segments layout) while it is still in cache.
constexpr int64_t kBlock = 1024;

// hp = h = silu(a) ⊙ g, packed; h itself is not kept.
template <typename Real>
void swiglu_packed(const Dims& d, const Real* a, const Real* g, Real* hp) {
  parallel_tasks(d.segments(), [&](int64_t s) {
    thread_local std::vector<Real> h;
    const int64_t n = d.rows(s) * d.F, at = d.first_row(s) * d.F;
    h.resize(static_cast<size_t>(n));
    for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
      const int64_t m = std::min(kBlock, n - i0);
      const Real *ab = a + at + i0, *gb = g + at + i0;
      Real* hb = h.data() + i0;
      Real sig[kBlock];
      vec::sigmoid(ab, sig, m);
      for (int64_t k = 0; k < m; ++k) hb[k] = ab[k] * sig[k] * gb[k];
    }
    cpu::pack_a<Real>(false, d.rows(s), d.F, h.data(), d.F, hp + s * segment_pack(d, d.F));
  });
}

// From a, g, dh and sig = σ(a), for m values:
//   h = silu(a) ⊙ g,   da = dh ⊙ g ⊙ silu'(a),   dg = dh ⊙ silu(a),   silu'(a) = σ(a)(1 + a(1 − σ(a)))
// The pointers are restrict parameters: with four inputs and three outputs GCC needs more run-time
// alias checks than it allows itself (10) and left this loop scalar without them (the pass is
// memory-bound, so vectorising it changed the backward by less than this machine's noise).
template <typename Real>
void swiglu_backward_block(const Real* __restrict a, const Real* __restrict g,
                           const Real* __restrict dh, const Real* __restrict sig,
                           Real* __restrict h, Real* __restrict da, Real* __restrict dg,
                           int64_t m) {
  for (int64_t k = 0; k < m; ++k) {
    const Real ak = a[k], gk = g[k], dhk = dh[k], silu = ak * sig[k];
    h[k] = silu * gk;
    da[k] = dhk * gk * (sig[k] * (Real(1) + ak * (Real(1) - sig[k])));
    dg[k] = dhk * silu;
  }
}

// h, da and dg are written in place (for the weight gradients), and da, dg also packed into dap
// and dgp (for dx's products) when these are given.
template <typename Real>
void swiglu_backward_packed(const Dims& d, const Real* a, const Real* g, const Real* dh, Real* h,
                            Real* da, Real* dg, Real* dap, Real* dgp) {
  parallel_tasks(d.segments(), [&](int64_t s) {
    const int64_t n = d.rows(s) * d.F, at = d.first_row(s) * d.F;
    for (int64_t i0 = at; i0 < at + n; i0 += kBlock) {
      const int64_t m = std::min(kBlock, at + n - i0);
      Real sig[kBlock];
      vec::sigmoid(a + i0, sig, m);
      swiglu_backward_block(a + i0, g + i0, dh + i0, sig, h + i0, da + i0, dg + i0, m);
    }
    if (!dap) return;
    cpu::pack_a<Real>(false, d.rows(s), d.F, da + at, d.F, dap + s * segment_pack(d, d.F));
    cpu::pack_a<Real>(false, d.rows(s), d.F, dg + at, d.F, dgp + s * segment_pack(d, d.F));
  });
}

template <typename Real>
void forward_kernel(const Dims& d, const Real* x, const Real* route, const Real* const w[3],
                    Real* y, Real* a, Real* g) {
  auto scratch = [](int64_t n) { return Tensor::empty({n}, dtype_of<Real>()); };  // freed on return
  Tensor xp = scratch(d.segments() * segment_pack(d, d.D));
  Tensor hp = scratch(d.segments() * segment_pack(d, d.F));
  pack_segments(d, x, d.D, xp.data<Real>());
  merged_product(d, route, w[0], false, d.D, d.F, xp.data<Real>(), a, d.F, false);  // a = x·Wbar1
  merged_product(d, route, w[1], false, d.D, d.F, xp.data<Real>(), g, d.F, false);  // g = x·Wbar3
  swiglu_packed(d, a, g, hp.data<Real>());
  merged_product(d, route, w[2], false, d.F, d.D, hp.data<Real>(), y, d.D, false);  // y = h·Wbar2
}

struct Grads {
  void* dx = nullptr;
  void* droute = nullptr;
  void* dw[3] = {nullptr, nullptr, nullptr};
};

template <typename Real>
void backward_kernel(const Dims& d, const Real* dy, const Real* x, const Real* route,
                     const Real* const w[3], const Real* a_in, const Real* g_in, const Grads& out) {
  const int64_t S = d.segments(), rows = d.B * d.L;
  auto scratch = [](int64_t n) { return Tensor::empty({n}, dtype_of<Real>()); };  // freed on return
  Tensor dh_t = scratch(rows * d.F), h_t = scratch(rows * d.F), da_t = scratch(rows * d.F),
         dg_t = scratch(rows * d.F);
  // dy packed for dh's product; da and dg packed for dx's.
  Tensor yp_t = scratch(S * segment_pack(d, d.D));
  Tensor dap_t = scratch(out.dx ? S * segment_pack(d, d.F) : 0), dgp_t = scratch(dap_t.numel());
  Real *dh = dh_t.data<Real>(), *h = h_t.data<Real>(), *da = da_t.data<Real>(),
       *dg = dg_t.data<Real>(), *yp = yp_t.data<Real>();
  Real *dap = out.dx ? dap_t.data<Real>() : nullptr, *dgp = out.dx ? dgp_t.data<Real>() : nullptr;
  pack_segments(d, dy, d.D, yp);
  merged_product(d, route, w[2], true, d.D, d.F, yp, dh, d.F, false);  // dh = dy·Wbar2ᵀ
  swiglu_backward_packed(d, a_in, g_in, dh, h, da, dg, dap, dgp);
  if (out.dx) {  // dx = da·Wbar1ᵀ + dg·Wbar3ᵀ
    Real* dx = static_cast<Real*>(out.dx);
    merged_product(d, route, w[0], true, d.F, d.D, dap, dx, d.D, false);
    merged_product(d, route, w[1], true, d.F, d.D, dgp, dx, d.D, true);
  }
  // G1 = xᵀ·da, G3 = xᵀ·dg (D × F), G2 = hᵀ·dy (F × D), folded into dW and dr tile by tile.
  Real* droute = static_cast<Real*>(out.droute);
  const int64_t t13 = grad_tiles(d.D, d.F), t2 = grad_tiles(d.F, d.D);
  Tensor partial_t = scratch((2 * t13 + t2) * S * d.E);
  Real* partial = partial_t.data<Real>();
  Real* part[3] = {partial, partial + t13 * S * d.E, partial + 2 * t13 * S * d.E};
  // op(A) = xᵀ serves G1 and G3, hᵀ serves G2: each is packed once, in the schedule's layout.
  const bool fused = fused_folds<Real>(d);
  auto lhs_size = [&](int64_t M) {
    return fused ? row_panels_size(d, M) : S * transposed_pack(d, M);
  };
  auto pack_lhs = [&](const Real* A, int64_t M, Tensor& out) {
    if (fused)
      pack_row_panels(d, A, M, out.data<Real>());
    else
      pack_segments_transposed(d, A, M, out.data<Real>());
  };
  Tensor xt = scratch(lhs_size(d.D)), ht = scratch(lhs_size(d.F));
  if (out.dw[0] || out.dw[1] || droute) pack_lhs(x, d.D, xt);
  if (out.dw[2] || droute) pack_lhs(h, d.F, ht);
  const Real* lhs[3] = {xt.data<Real>(), xt.data<Real>(), ht.data<Real>()};
  const Real* rhs[3] = {da, dg, dy};
  for (int m = 0; m < 3; ++m) {
    if (!out.dw[m] && !droute) continue;
    const int64_t M = m < 2 ? d.D : d.F, N = m < 2 ? d.F : d.D;
    Real* dw = static_cast<Real*>(out.dw[m]);
    Real* pm = droute ? part[m] : nullptr;
#ifdef LORY_LORY_KERNELS_AVX2
    if constexpr (std::is_same_v<Real, float>)
      if (fused) {
        merge_gradients_fused(d, route, lhs[m], M, rhs[m], N, w[m], dw, pm);
        continue;
      }
#endif
    merge_gradients_grouped(d, route, lhs[m], M, rhs[m], N, w[m], dw, pm);
  }
  if (!droute) return;
  for (int64_t k = 0; k < S * d.E; ++k) {  // matrices, then tiles, in order
    Real acc = 0;
    for (int m = 0; m < 3; ++m)
      for (int64_t t = 0; t < (m < 2 ? t13 : t2); ++t) acc += part[m][t * S * d.E + k];
    droute[k] = acc;
  }
}

Dims check_args(const Tensor& x, const Tensor& route, const Tensor& w1, const Tensor& w3,
                const Tensor& w2, int64_t T) {
  const char* op = "lory_ffn";
  check_floating(x, op, "x");
  check_rank(x, 3, op, "x");
  check_rank(route, 3, op, "route");
  check_rank(w1, 3, op, "w1");
  check_same_shape(w1, w3, op, "w1", "w3");
  check_rank(w2, 3, op, "w2");
  for (const Tensor* t : {&route, &w1, &w3, &w2}) {
    check_same_dtype(x, *t, op, "x", "route/w1/w3/w2");
    check_same_device(x, *t, op, "x", "route/w1/w3/w2");
  }
  LORY_CHECK(T >= 1, op, ": segment length T is ", T, "; expected >= 1");
  Dims d{x.size(0), x.size(1), x.size(2), w1.size(2), w1.size(0), T, (x.size(1) + T - 1) / T};
  LORY_CHECK(w1.size(1) == d.D, op, ": w1 has shape ", w1.shape().str(), " but x has width D=", d.D,
             "; expected (E, D, F)");
  LORY_CHECK(w2.shape() == Shape({d.E, d.F, d.D}), op, ": w2 has shape ", w2.shape().str(),
             "; expected (E, F, D) = ", Shape({d.E, d.F, d.D}).str());
  LORY_CHECK(route.shape() == Shape({d.B, d.N, d.E}), op, ": route has shape ", route.shape().str(),
             "; expected (B, ceil(L/T), E) = ", Shape({d.B, d.N, d.E}).str(), " for x ",
             x.shape().str(), " and T=", T);
  return d;
}

}  // namespace

Tensor lory_ffn(const Tensor& x, const Tensor& route, const Tensor& w1, const Tensor& w3,
                const Tensor& w2, int64_t T) {
  const Dims d = check_args(x, route, w1, w3, w2, T);
  const DType dt = x.dtype();
  const Device dev = x.device();
  Tensor y = Tensor::empty(x.shape(), dt, dev);
  Tensor a = Tensor::empty({d.B, d.L, d.F}, dt, dev), g = Tensor::empty({d.B, d.L, d.F}, dt, dev);
  if (dev == Device::cuda) {
    cuda::lory_ffn_forward(dt, d.B, d.L, d.D, d.F, d.E, d.T, x.raw_data(), route.raw_data(),
                           w1.raw_data(), w3.raw_data(), w2.raw_data(), y.raw_data(), a.raw_data(),
                           g.raw_data());
  } else {
    dispatch_float(dt, "lory_ffn", [&](auto zero) {
      using Real = decltype(zero);
      const Real* w[3] = {w1.data<Real>(), w3.data<Real>(), w2.data<Real>()};
      forward_kernel<Real>(d, x.data<Real>(), route.data<Real>(), w, y.data<Real>(), a.data<Real>(),
                           g.data<Real>());
    });
  }
  Tensor xs = x.detach(), rs = route.detach(), w1s = w1.detach(), w3s = w3.detach(),
         w2s = w2.detach();
  return record(
      "lory_ffn", y, {x, route, w1, w3, w2}, [=](const Tensor& dy, const std::vector<bool>& needs) {
        std::vector<Tensor> grads(5);
        Grads out;
        if (needs[0]) out.dx = (grads[0] = Tensor::empty(xs.shape(), dt, dev)).raw_data();
        if (needs[1]) out.droute = (grads[1] = Tensor::empty(rs.shape(), dt, dev)).raw_data();
        const Tensor* ws[3] = {&w1s, &w3s, &w2s};
        for (int m = 0; m < 3; ++m)
          if (needs[2 + m])
            out.dw[m] = (grads[2 + m] = dev == Device::cuda  // the GPU kernels accumulate
                                            ? Tensor::zeros(ws[m]->shape(), dt, dev)
                                            : Tensor::empty(ws[m]->shape(), dt, dev))
                            .raw_data();
        if (dev == Device::cuda) {
          cuda::lory_ffn_backward(dt, d.B, d.L, d.D, d.F, d.E, d.T, dy.raw_data(), xs.raw_data(),
                                  rs.raw_data(), w1s.raw_data(), w3s.raw_data(), w2s.raw_data(),
                                  a.raw_data(), g.raw_data(), out.dx, out.droute, out.dw[0],
                                  out.dw[1], out.dw[2]);
          return grads;
        }
        dispatch_float(dt, "lory_ffn", [&](auto zero) {
          using Real = decltype(zero);
          const Real* w[3] = {w1s.data<Real>(), w3s.data<Real>(), w2s.data<Real>()};
          backward_kernel<Real>(d, dy.data<Real>(), xs.data<Real>(), rs.data<Real>(), w,
                                a.data<Real>(), g.data<Real>(), out);
        });
        return grads;
      });
}

}  // namespace lory::ops
