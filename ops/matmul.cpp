// matmul: C = op(A)·op(B), tiled so that the result does not depend on the thread count; each
// tile is one single-threaded packed GEMM (core/cpu/gemm.h).
// (On the GPU the same GEMMs go to cuBLAS through lory::cuda::gemm: matmul_forward_cuda.)
//
// Why tiles: a multi-threaded GEMM that picks its depth blocking from the number of threads
// (Eigen's does) regroups the sums over K, so 1 and 2 threads give different bits. Instead every
// GEMM of a call is cut into output tiles (a row block × a column block) whose sizes depend only
// on (batch, M, N, K); each tile is one single-threaded GEMM over the full depth, and the tiles
// are shared out among the threads. A tile
// computes the same bits whichever thread runs it, so the result is thread-count independent,
// and a batch of many small GEMMs is simply parallel over the batch.
#include "ops/matmul.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/cpu/gemm.h"
#include "core/cuda/blas.h"
#include "core/dispatch.h"
#include "core/storage.h"
#include "core/threads.h"

namespace lory::ops {
namespace {

// What one call computes: `batch` GEMMs C_i(M,N) = op(A_i)(M,K)·op(B_i)(K,N), all row-major and
// packed one after another (A_i at a + i·M·K, and so on).
template <typename T>
struct Gemm {
  const T* a;
  const T* b;
  T* c;
  int64_t batch, M, N, K;
  bool ta, tb;
};

// C_i[r0 : r0+m, c0 : c0+n] = op(A_i)[r0 : r0+m, :] · op(B_i)[:, c0 : c0+n], one packed GEMM.
template <typename T>
void gemm_tile(const Gemm<T>& g, int64_t i, int64_t r0, int64_t m, int64_t c0, int64_t n) {
  const int64_t M = g.M, N = g.N, K = g.K;
  const T* a = g.a + i * M * K;  // rows r0.. of op(A): rows of A (M, K) or columns of A (K, M)
  const T* b = g.b + i * K * N;  // columns c0.. of op(B): columns of B (K, N) or rows of B (N, K)
  cpu::gemm<T>(g.ta, g.tb, m, n, K, g.ta ? a + r0 : a + r0 * K, g.ta ? M : K,
               g.tb ? b + c0 * K : b + c0, g.tb ? K : N, g.c + i * M * N + r0 * N + c0, N, false);
}

// Tile sizes from the problem alone (never from the thread count). Aim for kTargetTasks tiles in
// all (enough to balance 1, 2, 4 or 8 threads), no tile side below kMinSide, and no tile with
// less than kMinTileFlops of work (below that a thread fork costs more than it saves). Each tile
// packs its own rows of op(A), so an r × c grid packs M·K·c elements of A. op(B) is packed once
// per call and shared by the row tiles when it is small enough to stay in cache (up to
// kSharedB elements; a single GEMM): K·N elements. Otherwise each tile packs its own columns of
// op(B), K·N·r elements, into a cache-sized buffer (a larger op(B) packed once would make a trip
// through memory). Among the grids with enough tiles, take the one that packs least.
constexpr int64_t kTargetTasks = 8;
constexpr int64_t kMinSide = 128;
constexpr double kMinTileFlops = 4e6;
constexpr int64_t kSharedB = 1 << 20;  // 4 MiB of float32

struct Tiling {
  int64_t rows, cols;            // tile size
  int64_t row_tiles, col_tiles;  // tiles per GEMM
  bool shared_b;                 // op(B) packed once for all tiles
};

int64_t ceil_div(int64_t x, int64_t y) {
  return (x + y - 1) / y;
}

bool can_share_b(int64_t batch, int64_t N, int64_t K) {
  return batch == 1 && cpu::packed_b_size(K, N) <= kSharedB;
}

Tiling plan_tiles(int64_t batch, int64_t M, int64_t N, int64_t K) {
  const double flops =
      2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const int64_t wanted =
      std::min(ceil_div(kTargetTasks, batch),
               std::max<int64_t>(1, static_cast<int64_t>(flops / kMinTileFlops)));
  const int64_t max_r = std::max<int64_t>(1, M / kMinSide),
                max_c = std::max<int64_t>(1, N / kMinSide);
  int64_t best_r = 1, best_c = 1, best_tiles = 0;
  double best_packed = 0;
  for (int64_t r = 1; r <= std::min(wanted, max_r); ++r) {
    int64_t c = std::min(ceil_div(wanted, r), max_c);
    int64_t tiles = std::min(r * c, wanted);
    double packed = static_cast<double>(M) * K * c +
                    static_cast<double>(K) * N * (can_share_b(batch, N, K) ? 1 : r);
    if (tiles > best_tiles || (tiles == best_tiles && packed < best_packed))
      best_r = r, best_c = c, best_tiles = tiles, best_packed = packed;
  }
  Tiling t;
  t.rows = ceil_div(ceil_div(M, best_r), 6) * 6;  // whole 6 × 16 micro-tiles (core/cpu/gemm.cpp)
  t.cols = ceil_div(ceil_div(N, best_c), 16) * 16;
  t.row_tiles = ceil_div(M, t.rows);
  t.col_tiles = ceil_div(N, t.cols);
  t.shared_b = can_share_b(batch, N, K) && t.row_tiles > 1;
  return t;
}

template <typename T>
void gemm(const Gemm<T>& g) {
  if (g.batch == 0 || g.M == 0 || g.N == 0) return;
  if (g.K == 0) {  // an empty sum
    std::fill(g.c, g.c + g.batch * g.M * g.N, T(0));
    return;
  }
  const Tiling t = plan_tiles(g.batch, g.M, g.N, g.K);
  const int64_t per_gemm = t.row_tiles * t.col_tiles, tasks = g.batch * per_gemm;
  const double flops = 2.0 * static_cast<double>(g.batch * g.M) * static_cast<double>(g.N * g.K);
  // The shared op(B), packed in column pieces of kPackPiece (one task each).
  constexpr int64_t kPackPiece = 64;
  Tensor packed_b;
  T* pb = nullptr;
  if (t.shared_b) {
    packed_b = Tensor::empty({cpu::packed_b_size(g.K, g.N)}, dtype_of<T>());
    pb = packed_b.data<T>();
  }
  auto pack = [&](int64_t piece) {
    const int64_t j0 = piece * kPackPiece;
    cpu::pack_b_columns<T>(g.tb, g.K, g.N, j0, std::min(kPackPiece, g.N - j0), g.b,
                           g.tb ? g.K : g.N, pb);
  };
  auto run = [&](int64_t task) {
    int64_t i = task / per_gemm, rt = task % per_gemm / t.col_tiles, ct = task % t.col_tiles;
    int64_t r0 = rt * t.rows, c0 = ct * t.cols;
    const int64_t m = std::min(t.rows, g.M - r0), n = std::min(t.cols, g.N - c0);
    if (!pb) return gemm_tile(g, i, r0, m, c0, n);
    cpu::gemm_packed_b<T>(g.ta, m, n, g.K, g.ta ? g.a + r0 : g.a + r0 * g.K, g.ta ? g.M : g.K, pb,
                          g.N, c0, g.c + r0 * g.N + c0, g.N, false);
  };
  const int64_t pieces = pb ? ceil_div(g.N, kPackPiece) : 0;
#ifdef LORY_WITH_OPENMP
  const int threads = num_threads();
  if (threads > 1 && tasks > 1 && flops >= 2 * kMinTileFlops) {
    // Tiles are handed out dynamically: which thread computes a tile does not change its bits,
    // and on a loaded machine a thread that falls behind is not left holding a fixed share.
    const int64_t chunk = std::max<int64_t>(1, tasks / (16 * threads));
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(dynamic, 1)
      for (int64_t piece = 0; piece < pieces; ++piece) pack(piece);
#pragma omp for schedule(dynamic, chunk)
      for (int64_t task = 0; task < tasks; ++task) run(task);
    }
    return;
  }
#endif
  for (int64_t piece = 0; piece < pieces; ++piece) pack(piece);
  for (int64_t task = 0; task < tasks; ++task) run(task);
}

// The shapes of one call, after the checks: `batch` GEMMs of (M, K)·(K, N); in the broadcast
// case a is folded into one (prod(...)·M, K) matrix, so batch is 1 and M counts all rows.
struct Plan {
  int64_t batch = 1, M = 0, N = 0, K = 0;
  Shape out;
};

const char* flag(bool t) {
  return t ? "true" : "false";
}

Plan plan_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  check_floating(a, "matmul", "a");
  check_same_dtype(a, b, "matmul", "a", "b");
  check_same_device(a, b, "matmul", "a", "b");
  LORY_CHECK(a.rank() >= 2, "matmul: argument 'a' has shape ", a.shape().str(),
             "; expected rank >= 2: (M, K) or (..., M, K)");
  LORY_CHECK(b.rank() >= 2, "matmul: argument 'b' has shape ", b.shape().str(),
             "; expected rank >= 2: (K, N) or (..., K, N)");
  int64_t ka = ta ? a.size(-2) : a.size(-1), kb = tb ? b.size(-1) : b.size(-2);
  LORY_CHECK(ka == kb, "matmul: inner dimensions differ: a ", a.shape().str(),
             " with trans_a=", flag(ta), " has K=", ka, " but b ", b.shape().str(),
             " with trans_b=", flag(tb), " has K=", kb, "; expected equal");
  Plan p;
  p.K = ka;
  p.M = ta ? a.size(-1) : a.size(-2);
  p.N = tb ? b.size(-2) : b.size(-1);
  std::vector<int64_t> out = a.shape().to_vector();
  out[out.size() - 2] = p.M;
  out.back() = p.N;
  p.out = Shape(out);
  if (a.rank() > 2 && b.rank() == 2) {
    LORY_CHECK(!ta, "matmul: a ", a.shape().str(), " with trans_a=true and a 2-D b ",
               b.shape().str(), ": a broadcast weight needs trans_a=false");
    p.M = a.shape().outer(-1);
    return p;
  }
  bool same_batch = a.rank() == b.rank();
  for (int d = 0; same_batch && d < a.rank() - 2; ++d) same_batch = a.size(d) == b.size(d);
  LORY_CHECK(same_batch, "matmul: a has shape ", a.shape().str(), " and b has shape ",
             b.shape().str(),
             "; expected equal ranks with identical leading (batch) dims, or a "
             "2-D b (broadcast weight)");
  p.batch = a.shape().outer(-2);
  return p;
}

// The same `batch` GEMMs through cuBLAS (core/cuda/blas.h): packed operands, so the batch
// strides are the matrix sizes and the row strides are the stored widths.
Tensor matmul_forward_cuda(const Plan& p, const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor c = Tensor::empty(p.out, a.dtype(), a.device());
  if (c.numel() == 0) return c;
  if (p.K == 0) {  // an empty sum (cuBLAS rejects zero leading dimensions)
    cuda::memset_zero(c.raw_data(), c.nbytes());
    return c;
  }
  const int64_t int_max = 2147483647;
  LORY_CHECK(p.M <= int_max && p.N <= int_max && p.K <= int_max && p.batch <= int_max,
             "matmul: a ", a.shape().str(), " and b ", b.shape().str(),
             " give a GEMM of M=", p.M, ", N=", p.N, ", K=", p.K, ", batch=", p.batch,
             "; expected each below 2^31 on the GPU");
  cuda::gemm(a.dtype(), ta, tb, p.M, p.N, p.K, 1.0f, a.raw_data(), ta ? p.M : p.K, b.raw_data(),
             tb ? p.K : p.N, 0.0f, c.raw_data(), p.N, p.batch, p.M * p.K, p.K * p.N, p.M * p.N);
  return c;
}

Tensor matmul_forward(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Plan p = plan_matmul(a, b, ta, tb);
  if (a.device() == Device::cuda) return matmul_forward_cuda(p, a, b, ta, tb);
  Tensor c = Tensor::empty(p.out, a.dtype());
  dispatch_float(a.dtype(), "matmul", [&](auto zero) {
    using T = decltype(zero);
    gemm<T>({a.data<T>(), b.data<T>(), c.data<T>(), p.batch, p.M, p.N, p.K, ta, tb});
  });
  return c;
}

}  // namespace

// Backward. With dC = ∂L/∂C and C = op(A)·op(B):
//   ∂L/∂op(A) = dC·op(B)ᵀ        ∂L/∂op(B) = op(A)ᵀ·dC
// and where an operand is stored transposed, its gradient is the transpose of that:
//   dA = dC·op(B)ᵀ  = matmul(dC, B, false, !tb)     (ta = false)
//   dA = op(B)·dCᵀ  = matmul(B, dC, tb, true)       (ta = true)
//   dB = op(A)ᵀ·dC  = matmul(A, dC, !ta, false)     (tb = false)
//   dB = dCᵀ·op(A)  = matmul(dC, A, true, ta)       (tb = true)
// Batched calls apply this per batch entry. With a broadcast weight, A and dC are viewed as
// (R, K) and (R, N) with R = prod(...)·M: dA is again a broadcast GEMM and dB, the sum over
// all R rows, is ONE GEMM over the flattened rows (no per-batch partial sums).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  Tensor c = matmul_forward(a, b, trans_a, trans_b);
  bool broadcast = a.rank() > 2 && b.rank() == 2;
  // dA needs only B and dB only A: save just those.
  Tensor sa = any_requires_grad({b}) ? a.detach() : Tensor();
  Tensor sb = any_requires_grad({a}) ? b.detach() : Tensor();
  return record(
      "matmul", c, {a, b},
      [sa, sb, trans_a, trans_b, broadcast](const Tensor& dc, const std::vector<bool>& needs) {
        std::vector<Tensor> grads(2);
        if (needs[0])
          grads[0] = trans_a ? matmul_forward(sb, dc, trans_b, true)
                             : matmul_forward(dc, sb, false, !trans_b);
        if (needs[1]) {
          Tensor fa = sa, fdc = dc;  // broadcast: flatten to (R, K) and (R, N)
          if (broadcast) {
            fa = sa.view({sa.shape().outer(-1), sa.size(-1)});
            fdc = dc.view({dc.shape().outer(-1), dc.size(-1)});
          }
          grads[1] = trans_b ? matmul_forward(fdc, fa, true, trans_a)
                             : matmul_forward(fa, fdc, !trans_a, false);
        }
        return grads;
      });
}

}  // namespace lory::ops
