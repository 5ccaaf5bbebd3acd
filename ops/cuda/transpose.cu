// permute CUDA kernels. When the innermost input dim stays innermost, a general strided copy
// (one thread per output element, so writes coalesce and reads come in contiguous runs). When
// it moves, a batch of 2-D transposes through a 32×33 shared-memory tile, so both the reads of
// x and the writes of y are contiguous along the warp.
#include "core/cuda/device.cuh"
#include "ops/cuda/transpose.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

constexpr int kMaxRank = 6;
constexpr int kTile = 32;
constexpr int kTileRows = 8;  // the tile block is (32, 8): each thread moves 4 elements

// y[i] = x[Σ_d idx_d(i) · in_stride[d]] where idx_d(i) is i's coordinate along output dim d.
struct GeneralPlan {
  int rank;
  int64_t out_size[kMaxRank];
  int64_t in_stride[kMaxRank];  // the input stride of output dim d
};

template <typename E>
__global__ void general_kernel(const E* x, E* y, GeneralPlan p, int64_t numel) {
  LORY_GRID_STRIDE(i, numel) {
    int64_t rem = i, off = 0;
    for (int d = p.rank - 1; d >= 0; --d) {
      int64_t idx = rem % p.out_size[d];
      rem /= p.out_size[d];
      off += idx * p.in_stride[d];
    }
    y[i] = x[off];
  }
}

// Items × (np, nq) planes: y[out_off + ip + iq·os_q] = x[in_off + ip·is_p + iq], where the item
// offsets come from the remaining ("outer") output dims.
struct TilePlan {
  int nouter;
  int64_t outer_size[kMaxRank], outer_in_stride[kMaxRank], outer_out_stride[kMaxRank];
  int64_t items, np, nq, is_p, os_q;
};

// Grid (q tiles, p tiles, min(items, 65535)), block (32, 8).
template <typename E>
__global__ void tiled_kernel(const E* x, E* y, TilePlan t) {
  __shared__ E tile[kTile][kTile + 1];  // tile[r][c] = x at (p0 + r, q0 + c)
  const int64_t p0 = int64_t(blockIdx.y) * kTile, q0 = int64_t(blockIdx.x) * kTile;
  const int tx = threadIdx.x, ty = threadIdx.y;
  // The item loop is uniform across the block, so the barriers are reached by every thread.
  for (int64_t item = blockIdx.z; item < t.items; item += gridDim.z) {
    int64_t rem = item, in_off = 0, out_off = 0;
    for (int k = t.nouter - 1; k >= 0; --k) {
      int64_t idx = rem % t.outer_size[k];
      rem /= t.outer_size[k];
      in_off += idx * t.outer_in_stride[k];
      out_off += idx * t.outer_out_stride[k];
    }
    for (int r = ty; r < kTile; r += kTileRows) {
      int64_t ip = p0 + r, iq = q0 + tx;
      if (ip < t.np && iq < t.nq) tile[r][tx] = x[in_off + ip * t.is_p + iq];
    }
    __syncthreads();
    for (int r = ty; r < kTile; r += kTileRows) {
      int64_t ip = p0 + tx, iq = q0 + r;
      if (ip < t.np && iq < t.nq) y[out_off + ip + iq * t.os_q] = tile[tx][r];
    }
    __syncthreads();  // the next item overwrites the tile
  }
}

template <typename E>
void launch(const void* xv, void* yv, int r, const int64_t* size, const int* perm) {
  const E* x = static_cast<const E*>(xv);
  E* y = static_cast<E*>(yv);
  int64_t in_stride[kMaxRank], out_size[kMaxRank], out_stride[kMaxRank];
  int pos[kMaxRank];  // output position of each input dim
  int64_t s_in = 1, s_out = 1;
  for (int d = r - 1; d >= 0; --d) in_stride[d] = s_in, s_in *= size[d];
  for (int i = r - 1; i >= 0; --i) {
    out_size[i] = size[perm[i]];
    out_stride[i] = s_out, s_out *= out_size[i];
    pos[perm[i]] = i;
  }
  const int64_t numel = s_in;
  if (numel == 0) return;
  if (r >= 2 && perm[r - 1] != r - 1) {
    // The innermost input dim q moves to output position pos[q]; input dim p becomes innermost.
    const int q = r - 1, p = perm[r - 1];
    TilePlan t{};
    t.np = size[p];
    t.nq = size[q];
    t.is_p = in_stride[p];
    t.os_q = out_stride[pos[q]];
    t.items = 1;
    for (int i = 0; i < r - 1; ++i) {
      if (perm[i] == q) continue;
      t.outer_size[t.nouter] = out_size[i];
      t.outer_in_stride[t.nouter] = in_stride[perm[i]];
      t.outer_out_stride[t.nouter] = out_stride[i];
      ++t.nouter;
      t.items *= out_size[i];
    }
    const int64_t q_tiles = (t.nq + kTile - 1) / kTile, p_tiles = (t.np + kTile - 1) / kTile;
    if (p_tiles <= 65535 && q_tiles <= INT32_MAX) {
      dim3 grid(static_cast<unsigned>(q_tiles), static_cast<unsigned>(p_tiles),
                static_cast<unsigned>(std::min<int64_t>(t.items, 65535)));
      tiled_kernel<E><<<grid, dim3(kTile, kTileRows)>>>(x, y, t);
      CUDA_CHECK_LAUNCH();
      return;
    }
  }
  GeneralPlan g{};
  g.rank = r;
  for (int i = 0; i < r; ++i) {
    g.out_size[i] = out_size[i];
    g.in_stride[i] = in_stride[perm[i]];
  }
  general_kernel<E><<<grid_for(numel), kThreads>>>(x, y, g, numel);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void permute_copy(size_t elem_size, const void* x, void* y, int rank, const int64_t* size,
                  const int* perm) {
  LORY_ASSERT(rank >= 0 && rank <= kMaxRank, "permute_copy: rank out of range");
  switch (elem_size) {
    case 2:
      launch<uint16_t>(x, y, rank, size, perm);
      break;
    case 4:
      launch<uint32_t>(x, y, rank, size, perm);
      break;
    case 8:
      launch<uint64_t>(x, y, rank, size, perm);
      break;
    default:
      LORY_FAIL("permute: element size ", elem_size, " is not supported; expected 2, 4 or 8");
  }
}

}  // namespace lory::ops::cuda
