// causal_attention: argument checks, fused forward and backward CPU kernels over query blocks,
// with Eigen GEMMs on row-major maps of the raw (b, h) slices.
#include "ops/attention.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/attention.h"

namespace lory::ops {
namespace {

// Queries are processed in blocks of this many rows: a block's scores (kQueryBlock × Lk) are
// the largest temporary. Fixed, so results never depend on the thread count.
constexpr int64_t kQueryBlock = 64;

template <typename T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstMap = Eigen::Map<const Mat<T>>;
template <typename T>
using MutMap = Eigen::Map<Mat<T>>;

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

// Forward for query block qb of slice bh. Two passes over each row of the block's scores:
// the max over the visible keys, then exp(s - max) and its sum. Masked entries become exactly
// 0, so keys a query may not see never touch its output.
template <typename T>
void attention_forward_block(const T* q, const T* k, const T* v, T* o, T* lse, const Dims& d,
                             int64_t bh, int64_t qb) {
  Block blk(d, qb);
  ConstMap<T> Q(q + (bh * d.Lq + blk.i0) * d.Dh, blk.rows(), d.Dh);
  ConstMap<T> K(k + bh * d.Lk * d.Dh, blk.kmax, d.Dh);
  ConstMap<T> V(v + bh * d.Lk * d.Dh, blk.kmax, d.Dh);
  Mat<T> P(blk.rows(), blk.kmax);
  P.noalias() = (Q * K.transpose()) * static_cast<T>(d.scale);
  for (int64_t a = 0; a < blk.rows(); ++a) {
    int64_t i = blk.i0 + a, visible = i + d.offset() + 1;
    T* p = P.data() + a * blk.kmax;
    T m = p[0];
    for (int64_t j = 1; j < visible; ++j) m = std::max(m, p[j]);
    double sum = 0;
    for (int64_t j = 0; j < visible; ++j) {
      p[j] = std::exp(p[j] - m);
      sum += p[j];
    }
    T inv = static_cast<T>(1.0 / sum);
    for (int64_t j = 0; j < visible; ++j) p[j] *= inv;
    std::fill(p + visible, p + blk.kmax, T(0));
    lse[bh * d.Lq + i] = m + static_cast<T>(std::log(sum));
  }
  MutMap<T> O(o + (bh * d.Lq + blk.i0) * d.Dh, blk.rows(), d.Dh);
  O.noalias() = P * V;
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
                              const T* dout, T* dq, T* dk, T* dv, const Dims& d, int64_t bh) {
  T s = static_cast<T>(d.scale);
  MutMap<T> dK(dk + bh * d.Lk * d.Dh, d.Lk, d.Dh), dV(dv + bh * d.Lk * d.Dh, d.Lk, d.Dh);
  dK.setZero();
  dV.setZero();
  for (int64_t qb = 0; qb < d.num_blocks(); ++qb) {
    Block blk(d, qb);
    int64_t row0 = (bh * d.Lq + blk.i0) * d.Dh;
    ConstMap<T> Q(q + row0, blk.rows(), d.Dh), O(o + row0, blk.rows(), d.Dh);
    ConstMap<T> dO(dout + row0, blk.rows(), d.Dh);
    ConstMap<T> K(k + bh * d.Lk * d.Dh, blk.kmax, d.Dh), V(v + bh * d.Lk * d.Dh, blk.kmax, d.Dh);
    Mat<T> P(blk.rows(), blk.kmax), dS(blk.rows(), blk.kmax);
    P.noalias() = (Q * K.transpose()) * s;
    dS.noalias() = dO * V.transpose();  // dP, turned into dS in place below
    for (int64_t a = 0; a < blk.rows(); ++a) {
      int64_t i = blk.i0 + a, visible = i + d.offset() + 1;
      T row_lse = lse[bh * d.Lq + i];
      T* p = P.data() + a * blk.kmax;
      T* ds = dS.data() + a * blk.kmax;
      T delta = 0;  // Σ_d dO_id O_id
      for (int64_t c = 0; c < d.Dh; ++c) delta += dO(a, c) * O(a, c);
      for (int64_t j = 0; j < visible; ++j) {
        p[j] = std::exp(p[j] - row_lse);
        ds[j] = p[j] * (ds[j] - delta);
      }
      std::fill(p + visible, p + blk.kmax, T(0));
      std::fill(ds + visible, ds + blk.kmax, T(0));
    }
    dV.topRows(blk.kmax).noalias() += P.transpose() * dO;
    MutMap<T>(dq + row0, blk.rows(), d.Dh).noalias() = (dS * K) * s;
    dK.topRows(blk.kmax).noalias() += (dS.transpose() * Q) * s;
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
    // Grain 1: with several threads the loop always runs inside an OpenMP team, where Eigen keeps
    // each GEMM single-threaded (its own threading would change the blocking, hence the bits).
    dispatch_float(q.dtype(), op, [&](auto zero) {
      using T = decltype(zero);
      const T *qp = q.data<T>(), *kp = k.data<T>(), *vp = v.data<T>();
      T *op_ = out.data<T>(), *lp = lse.data<T>();
      parallel_for(d.BH * d.num_blocks(), 1, [&](int64_t begin, int64_t end) {
        for (int64_t task = begin; task < end; ++task)
          attention_forward_block<T>(qp, kp, vp, op_, lp, d, task / d.num_blocks(),
                                     task % d.num_blocks());
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
                      for (int64_t bh = begin; bh < end; ++bh)
                        attention_backward_slice<T>(qp, kp, vp, op_, lp, dop, dqp, dkp, dvp, d, bh);
                    });
                  });
                  return std::vector<Tensor>{dq, dk, dv};
                });
}

}  // namespace lory::ops
