// causal_attention: argument checks, fused forward and backward CPU kernels over query blocks,
// with register-tiled products (ops/attention_tiles.h) on the raw (b, h) slices.
#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/cpu/aligned_vector.h"
#include "core/cpu/transpose.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/attention_tiles.h"
#include "ops/cuda/attention.h"
#include "ops/vec_math.h"

namespace lory::ops {
namespace {

// Queries are processed in blocks of this many rows: a block's scores (kQueryBlock × Lk) are
// the largest temporary. Fixed, so results never depend on the thread count.
constexpr int64_t kQueryBlock = 64;

struct Dims {
  int64_t BH, Lq, Lk, Dh;
  double scale;                               // 1/sqrt(Dh)
  int64_t offset() const { return Lk - Lq; }  // query i sees keys j <= i + offset
  int64_t num_blocks() const { return (Lq + kQueryBlock - 1) / kQueryBlock; }
};

// Query block qb covers rows [i0, i1); its last row sees keys [0, i1 + offset), so only those
// key rows enter its GEMMs.
struct Block {
  int64_t i0, i1, kmax;
  Block(const Dims& d, int64_t qb)
      : i0(qb * kQueryBlock), i1(std::min(d.Lq, i0 + kQueryBlock)), kmax(i1 + d.offset()) {}
  int64_t rows() const { return i1 - i0; }
};

// Per-thread buffers: Kᵀ and Vᵀ (Dh × Lk), padded copies of K and V (Lk × Dh), and one query
// block's P and dS (kQueryBlock × Lk). Rows are padded by attn::kPad (see attn::product).
template <typename T>
struct Scratch {
  cpu::AlignedVector<T> kt, vt, kc, vc, p, ds;  // rows on cache lines (padded widths)
  explicit Scratch(const Dims& d)
      : kt(d.Dh * (d.Lk + attn::kPad)), vt(kt.size()), kc(d.Lk * (d.Dh + attn::kPad)),
        vc(kc.size()), p(kQueryBlock * d.Lk), ds(p.size()) {}
};

// Kᵀ (into w.kt) and a padded copy of V (into w.vc) of slice bh, keys [0, kmax): what the
// forward's products read for every query block up to the one whose last key is kmax - 1.
template <typename T>
void prepare_keys(const T* k, const T* v, const Dims& d, int64_t bh, int64_t kmax, Scratch<T>& w) {
  const int64_t ldt = d.Lk + attn::kPad, ldc = d.Dh + attn::kPad;
  cpu::transpose(k + bh * d.Lk * d.Dh, kmax, d.Dh, d.Dh, w.kt.data(), ldt);
  attn::copy_rows(v + bh * d.Lk * d.Dh, kmax, d.Dh, d.Dh, w.vc.data(), ldc);
}

// Forward for query block qb of slice bh (keys prepared by prepare_keys): S = Q Kᵀ·s, then per
// row the max over the visible keys, exp(S - max) and its sum (vec::exp_sum), P = exp / sum;
// O = P V. Masked entries of P are exactly 0 (and the products skip the keys no row of a tile
// sees), so keys a query may not see never touch its output.
template <typename T>
void attention_forward_block(const T* q, T* o, T* lse, const Dims& d, int64_t bh, int64_t qb,
                             Scratch<T>& w) {
  Block blk(d, qb);
  const int64_t kmax = blk.kmax, ldt = d.Lk + attn::kPad, ldc = d.Dh + attn::kPad;
  const int64_t shift = blk.i0 + d.offset();  // row a of the block sees keys j < a + 1 + shift
  const T* Q = q + (bh * d.Lq + blk.i0) * d.Dh;
  T* P = w.p.data();
  attn::product<T>(blk.rows(), kmax, d.Dh, static_cast<T>(d.scale), {Q, d.Dh, 1}, w.kt.data(), ldt,
                   P, kmax, false, shift);
  for (int64_t a = 0; a < blk.rows(); ++a) {
    const int64_t visible = a + 1 + shift;
    T* p = P + a * kmax;
    const T m = vec::row_max(p, visible);
    const double sum = vec::exp_sum(p, m, p, visible);
    vec::Row<T>(p, visible) *= static_cast<T>(1.0 / sum);
    std::fill(p + visible, p + kmax, T(0));
    lse[bh * d.Lq + blk.i0 + a] = m + static_cast<T>(std::log(sum));
  }
  attn::product<T>(blk.rows(), d.Dh, kmax, T(1), {P, kmax, 1}, w.vc.data(), ldc,
                   o + (bh * d.Lq + blk.i0) * d.Dh, d.Dh, false, attn::kNoLimit, shift);
}

// One row of the softmax backward: p = exp(s - lse), ds = p · (dp - delta) for the visible keys
// (s in p, dp in ds on entry), 0 beyond up to n.
template <typename T>
void softmax_backward_row(T* p, T* ds, T lse, T delta, int64_t visible, int64_t n) {
  namespace pk = Eigen::internal;
  using P = attn::Packet<T>;
  constexpr int64_t W = attn::kWidth<T>;
  const P l = pk::pset1<P>(lse), dl = pk::pset1<P>(delta);
  int64_t j = 0;
  for (; j + W <= visible; j += W) {
    const P e = pk::pexp(pk::psub(pk::ploadu<P>(p + j), l));
    pk::pstoreu(p + j, e);
    pk::pstoreu(ds + j, pk::pmul(e, pk::psub(pk::ploadu<P>(ds + j), dl)));
  }
  if (j < visible) {  // the tail through one padded packet: the same exp as the rest
    T buf[W];
    for (int64_t t = 0; t < W; ++t) buf[t] = j + t < visible ? p[j + t] : lse;
    pk::pstoreu(buf, pk::pexp(pk::psub(pk::ploadu<P>(buf), l)));
    for (int64_t t = 0; j + t < visible; ++t) {
      p[j + t] = buf[t];
      ds[j + t] = buf[t] * (ds[j + t] - delta);
    }
  }
  std::fill(p + visible, p + n, T(0));
  std::fill(ds + visible, ds + n, T(0));
}

// Backward for slice bh, query blocks in order (dK, dV accumulate over blocks, so one thread
// owns the whole slice). With S = Q Kᵀ·s (s = 1/sqrt(Dh)), P = softmax(S) row-wise over the
// visible keys and O = P V:
//   dV = Pᵀ dO
//   dP = dO Vᵀ
//   dS_ij = P_ij (dP_ij - Σ_k P_ik dP_ik)                    (softmax backward, row i)
//   Σ_k P_ik dP_ik = Σ_k P_ik Σ_d dO_id V_kd = Σ_d dO_id O_id (a Dh-sized sum instead of Lk)
//   dQ = dS K · s,   dK = dSᵀ Q · s
// P is recomputed from the saved logsumexp: P_ij = exp(S_ij - lse_i), masked entries 0.
template <typename T>
void attention_backward_slice(const T* q, const T* k, const T* v, const T* o, const T* lse,
                              const T* dout, T* dq, T* dk, T* dv, const Dims& d, int64_t bh,
                              Scratch<T>& w) {
  const T s = static_cast<T>(d.scale);
  const int64_t ldt = d.Lk + attn::kPad, ldc = d.Dh + attn::kPad, slice = bh * d.Lk * d.Dh;
  cpu::transpose(k + slice, d.Lk, d.Dh, d.Dh, w.kt.data(), ldt);
  cpu::transpose(v + slice, d.Lk, d.Dh, d.Dh, w.vt.data(), ldt);
  attn::copy_rows(k + slice, d.Lk, d.Dh, d.Dh, w.kc.data(), ldc);
  std::fill(dk + slice, dk + slice + d.Lk * d.Dh, T(0));
  std::fill(dv + slice, dv + slice + d.Lk * d.Dh, T(0));
  for (int64_t qb = 0; qb < d.num_blocks(); ++qb) {
    Block blk(d, qb);
    const int64_t kmax = blk.kmax, rows = blk.rows(), shift = blk.i0 + d.offset();
    const int64_t row0 = (bh * d.Lq + blk.i0) * d.Dh;
    const T *Q = q + row0, *O = o + row0, *dO = dout + row0;
    T *P = w.p.data(), *dS = w.ds.data();
    attn::product<T>(rows, kmax, d.Dh, s, {Q, d.Dh, 1}, w.kt.data(), ldt, P, kmax, false, shift);
    attn::product<T>(rows, kmax, d.Dh, T(1), {dO, d.Dh, 1}, w.vt.data(), ldt, dS, kmax, false,
                     shift);  // dP, turned into dS in place below
    for (int64_t a = 0; a < rows; ++a) {
      T delta = 0;  // Σ_d dO_id O_id
      for (int64_t c = 0; c < d.Dh; ++c) delta += dO[a * d.Dh + c] * O[a * d.Dh + c];
      softmax_backward_row(P + a * kmax, dS + a * kmax, lse[bh * d.Lq + blk.i0 + a], delta,
                           a + 1 + shift, kmax);
    }
    // dV += Pᵀ dO and dK += dSᵀ Q·s over this block's rows (Pᵀ, dSᵀ read in place: element
    // (j, a) at [a · kmax + j]); dQ = dS K·s needs only the keys each row sees.
    attn::product<T>(kmax, d.Dh, rows, T(1), {P, 1, kmax}, dO, d.Dh, dv + slice, d.Dh, true);
    attn::product<T>(kmax, d.Dh, rows, s, {dS, 1, kmax}, Q, d.Dh, dk + slice, d.Dh, true);
    attn::product<T>(rows, d.Dh, kmax, s, {dS, kmax, 1}, w.kc.data(), ldc, dq + row0, d.Dh, false,
                     attn::kNoLimit, shift);
  }
}

}  // namespace

Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  const char* op = "causal_attention";
  check_defined(q, op, "q");
  check_defined(k, op, "k");
  check_defined(v, op, "v");
  check_same_device(q, k, op, "q", "k");
  check_same_device(q, v, op, "q", "v");
  check_floating(q, op, "q");
  check_same_dtype(q, k, op, "q", "k");
  check_same_dtype(q, v, op, "q", "v");
  check_rank(q, 4, op, "q");
  check_rank(k, 4, op, "k");
  check_same_shape(k, v, op, "k", "v");
  LORY_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3), op,
             ": 'q' has shape ", q.shape().str(), " but 'k' has shape ", k.shape().str(),
             "; expected the same B, H and Dh (B, H, Lq, Dh) vs (B, H, Lk, Dh)");
  LORY_CHECK(k.size(2) >= q.size(2), op, ": 'k' has Lk = ", k.size(2),
             " keys but 'q' has Lq = ", q.size(2),
             " queries; expected Lk >= Lq (the last Lq keys align with the queries)");
  LORY_CHECK(q.size(3) >= 1, op, ": 'q' has shape ", q.shape().str(), "; expected Dh >= 1");
  Dims d{q.size(0) * q.size(1), q.size(2), k.size(2), q.size(3),
         1.0 / std::sqrt(static_cast<double>(q.size(3)))};

  Tensor out = Tensor::empty(q.shape(), q.dtype(), q.device());
  Tensor lse = Tensor::empty({q.size(0), q.size(1), q.size(2)}, stats_dtype(q.dtype()), q.device());
  if (q.device() == Device::cuda) {
    LORY_CHECK(d.Dh <= cuda::kMaxHeadDim, op, ": 'q' has shape ", q.shape().str(),
               "; expected Dh <= ", cuda::kMaxHeadDim, " on the GPU");
    cuda::causal_attention_forward(q.dtype(), q.raw_data(), k.raw_data(), v.raw_data(),
                                   out.raw_data(), lse.raw_data(), d.BH, d.Lq, d.Lk, d.Dh);
  } else {
    // A task is a slice (its keys prepared once for all its query blocks), or, when there are
    // too few slices to share among the threads, a single query block. Blocks compute the same
    // bits either way; each thread chunk gets its own buffers.
    dispatch_float(q.dtype(), op, [&](auto zero) {
      using T = decltype(zero);
      const T *qp = q.data<T>(), *kp = k.data<T>(), *vp = v.data<T>();
      T *op_ = out.data<T>(), *lp = lse.data<T>();
      const int64_t per_task = d.BH >= 4 * num_threads() ? d.num_blocks() : 1;
      const int64_t tasks_per_slice = d.num_blocks() / per_task;
      parallel_for(d.BH * tasks_per_slice, 1, [&](int64_t begin, int64_t end) {
        Scratch<T> w(d);
        for (int64_t task = begin; task < end; ++task) {
          const int64_t bh = task / tasks_per_slice, qb0 = task % tasks_per_slice * per_task;
          prepare_keys(kp, vp, d, bh, Block(d, qb0 + per_task - 1).kmax, w);
          for (int64_t qb = qb0; qb < qb0 + per_task; ++qb)
            attention_forward_block<T>(qp, op_, lp, d, bh, qb, w);
        }
      });
    });
  }

  return record(op, out, {q, k, v},
                [qs = q.detach(), ks = k.detach(), vs = v.detach(), os = out.detach(), lse, d](
                    const Tensor& dout, const std::vector<bool>&) {
                  Tensor dq = Tensor::empty(qs.shape(), qs.dtype(), qs.device());
                  Tensor dk = Tensor::empty(ks.shape(), ks.dtype(), ks.device());
                  Tensor dv = Tensor::empty(vs.shape(), vs.dtype(), vs.device());
                  if (qs.device() == Device::cuda) {
                    cuda::causal_attention_backward(
                        qs.dtype(), qs.raw_data(), ks.raw_data(), vs.raw_data(), os.raw_data(),
                        lse.raw_data(), dout.raw_data(), dq.raw_data(), dk.raw_data(),
                        dv.raw_data(), d.BH, d.Lq, d.Lk, d.Dh);
                    return std::vector<Tensor>{dq, dk, dv};
                  }
                  dispatch_float(qs.dtype(), "causal_attention backward", [&](auto zero) {
                    using T = decltype(zero);
                    const T *qp = qs.data<T>(), *kp = ks.data<T>(), *vp = vs.data<T>();
                    const T *op_ = os.data<T>(), *lp = lse.data<T>(), *dop = dout.data<T>();
                    T *dqp = dq.data<T>(), *dkp = dk.data<T>(), *dvp = dv.data<T>();
                    parallel_for(d.BH, 1, [&](int64_t begin, int64_t end) {
                      Scratch<T> w(d);
                      for (int64_t bh = begin; bh < end; ++bh)
                        attention_backward_slice<T>(qp, kp, vp, op_, lp, dop, dqp, dkp, dvp, d, bh,
                                                    w);
                    });
                  });
                  return std::vector<Tensor>{dq, dk, dv};
                });
}

}  // namespace lory::ops
