// lory_ffn: forward and backward of the merged, segment-routed SwiGLU FFN (LORY.md §2).
//
// Segment s = (b, k) covers rows [b·L + kT, b·L + min(L, (k+1)T)) of x viewed as (B·L, D).
// Forward, per segment:   Wbar_m = Σ_i r[s,i] W_m[i]   (m = 1, 3, 2; a GEMM over a chunk of
//                         segments: (S_c × E) @ (E × D·F))
//                         a = x·Wbar1, g = x·Wbar3, h = silu(a) ⊙ g, y = h·Wbar2
// Backward, per segment (G_m = ∂L/∂Wbar_m, an ordinary weight gradient of that segment):
//   dh  = dy·Wbar2ᵀ                 G2 = hᵀ·dy
//   da  = dh ⊙ g ⊙ silu'(a)         dg = dh ⊙ silu(a),   silu'(a) = σ(a)(1 + a(1 − σ(a)))
//   G1  = xᵀ·da    G3 = xᵀ·dg       dx = da·Wbar1ᵀ + dg·Wbar3ᵀ
// and through the merge:
//   ∂L/∂r[s,i]  = Σ_m ⟨G_m[s], W_m[i]⟩     (G_m (S_c × D·F) @ W_mᵀ (D·F × E), per chunk)
//   ∂L/∂W_m[i] += Σ_s r[s,i] G_m[s]         (rᵀ (E × S_c) @ G_m (S_c × D·F), per chunk)
// Merged weights and G live only in chunk-sized scratch buffers, in forward and backward alike.
// Threads: segments of a chunk run in parallel, each on one thread; the chunk-level products are
// split into fixed column blocks; so results never depend on the thread count.
#include "ops/lory_ffn.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "ops/cuda/lory_ffn.h"

namespace lory::ops {
namespace {

constexpr int64_t kChunk = 8;  // segments merged at once (fixed: results never depend on threads)

template <typename Real>
using Mat = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename Real>
using MapM = Eigen::Map<Mat<Real>>;
template <typename Real>
using CMapM = Eigen::Map<const Mat<Real>>;

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

// out[i] (m × P) (+)= a (m × k) · b[i] (k × P) for the three matrices i (a null out[i] is
// skipped), as single-threaded GEMMs over fixed column blocks run as tasks of one parallel region:
// the result never depends on the thread count (Eigen's own threading would change its blocking
// with the thread count, and with it the rounding).
template <typename Real>
void gemm_column_blocks(Real* const out[3], const Real* a, const Real* const b[3], int64_t m,
                        int64_t k, int64_t P, bool accumulate, bool transpose_a = false) {
  constexpr int64_t kBlock = 2048;
  const int64_t blocks = (P + kBlock - 1) / kBlock;
  parallel_tasks(3 * blocks, [&](int64_t task) {
    const int64_t i = task / blocks, c0 = task % blocks * kBlock, n = std::min(kBlock, P - c0);
    if (!out[i]) return;
    Eigen::Map<Mat<Real>, 0, Eigen::OuterStride<>> o(out[i] + c0, m, n, Eigen::OuterStride<>(P));
    Eigen::Map<const Mat<Real>, 0, Eigen::OuterStride<>> bb(b[i] + c0, k, n, Eigen::OuterStride<>(P));
    if (transpose_a) {
      CMapM<Real> at(a, k, m);  // a is stored (k × m)
      if (accumulate) o.noalias() += at.transpose() * bb; else o.noalias() = at.transpose() * bb;
    } else {
      CMapM<Real> aa(a, m, k);
      if (accumulate) o.noalias() += aa * bb; else o.noalias() = aa * bb;
    }
  });
}

// Wbar[j] = Σ_i r[c0 + j, i] · W[i] for the chunk's segments, for the three matrices.
template <typename Real>
void merge_chunk(const Dims& d, int64_t c0, int64_t sc, const Real* route, const Real* const w[3],
                 Real* wbar) {
  const int64_t P = d.D * d.F;
  Real* const out[3] = {wbar, wbar + kChunk * P, wbar + 2 * kChunk * P};
  gemm_column_blocks<Real>(out, route + c0 * d.E, w, sc, d.E, P, false);
}

// sigmoid(a) = 1 / (1 + e^-a) element-wise as an Eigen expression (packet exp, as in
// ops/vec_math.h), so that it fuses into the loop that consumes it.
#define LORY_SIGMOID(a) ((Real(1) + (-(a).array()).exp()).inverse())

template <typename Real>
void forward_kernel(const Dims& d, const Real* x, const Real* route, const Real* const w[3],
                    Real* wbar, Real* y, Real* a_out, Real* g_out) {
  const int64_t P = d.D * d.F, S = d.segments();
  for (int64_t c0 = 0; c0 < S; c0 += kChunk) {
    const int64_t sc = std::min(kChunk, S - c0);
    merge_chunk(d, c0, sc, route, w, wbar);
    parallel_tasks(sc, [&](int64_t j) {
      thread_local Mat<Real> h;  // scratch reused across calls: no page faults per segment
      {
        const int64_t s = c0 + j, row = d.first_row(s), n = d.rows(s);
        CMapM<Real> xs(x + row * d.D, n, d.D);
        CMapM<Real> w1(wbar + (0 * kChunk + j) * P, d.D, d.F);
        CMapM<Real> w3(wbar + (1 * kChunk + j) * P, d.D, d.F);
        CMapM<Real> w2(wbar + (2 * kChunk + j) * P, d.F, d.D);
        MapM<Real> a(a_out + row * d.F, n, d.F), g(g_out + row * d.F, n, d.F);
        a.noalias() = xs * w1;
        g.noalias() = xs * w3;
        h = (a.array() * LORY_SIGMOID(a) * g.array()).matrix();
        MapM<Real>(y + row * d.D, n, d.D).noalias() = h * w2;
      }
    });
  }
}

// The chunk's gradients through the merge, from G (sc segments × 3 matrices, rows of length P):
//   dr[j,i] = Σ_m ⟨G_m[j], W_m[i]⟩     a (sc × P)·(P × E) product per matrix
//   dW_m  += rᵀ · G_m                  (E × sc)·(sc × P), r stored (sc × E)
// in one pass over fixed column blocks of P, one task each: a block of G is read from memory once
// for both (both are memory-bound). The router's per-block partial (sc × E) results are added in
// block order afterwards, so nothing depends on the thread count. dr or dw[m] may be null.
template <typename Real>
void chunk_gradients(const Dims& d, int64_t sc, const Real* route, const Real* gbuf,
                     const Real* const w[3], Real* dr, Real* const dw[3]) {
  constexpr int64_t kBlock = 2048;
  const int64_t P = d.D * d.F, blocks = (P + kBlock - 1) / kBlock;
  std::vector<Real> partial(dr ? static_cast<size_t>(blocks * sc * d.E) : 0, Real(0));
  using Strided = Eigen::Map<const Mat<Real>, 0, Eigen::OuterStride<>>;
  using StridedOut = Eigen::Map<Mat<Real>, 0, Eigen::OuterStride<>>;
  CMapM<Real> r(route, sc, d.E);
  parallel_tasks(blocks, [&](int64_t blk) {
    const int64_t c0 = blk * kBlock, n = std::min(kBlock, P - c0);
    for (int m = 0; m < 3; ++m) {
      Strided g(gbuf + m * kChunk * P + c0, sc, n, Eigen::OuterStride<>(P));
      if (dr) {
        MapM<Real> out(partial.data() + blk * sc * d.E, sc, d.E);
        Strided wm(w[m] + c0, d.E, n, Eigen::OuterStride<>(P));
        out.noalias() += g * wm.transpose();
      }
      if (dw[m]) {
        StridedOut o(dw[m] + c0, d.E, n, Eigen::OuterStride<>(P));
        o.noalias() += r.transpose() * g;
      }
    }
  });
  if (!dr) return;
  for (int64_t k = 0; k < sc * d.E; ++k) {
    Real acc = 0;
    for (int64_t blk = 0; blk < blocks; ++blk) acc += partial[blk * sc * d.E + k];
    dr[k] = acc;
  }
}

struct Grads {
  void* dx = nullptr;
  void* droute = nullptr;
  void* dw[3] = {nullptr, nullptr, nullptr};
};

template <typename Real>
void backward_kernel(const Dims& d, const Real* dy, const Real* x, const Real* route,
                     const Real* const w[3], const Real* a_in, const Real* g_in, Real* wbar,
                     Real* gbuf, const Grads& out) {
  const int64_t P = d.D * d.F, S = d.segments();
  Real* dx = static_cast<Real*>(out.dx);
  Real* droute = static_cast<Real*>(out.droute);
  for (int64_t c0 = 0; c0 < S; c0 += kChunk) {
    const int64_t sc = std::min(kChunk, S - c0);
    merge_chunk(d, c0, sc, route, w, wbar);
    parallel_tasks(sc, [&](int64_t j) {
      thread_local Mat<Real> sg, h, dh, da, dg;  // scratch reused across calls
      {
        const int64_t s = c0 + j, row = d.first_row(s), n = d.rows(s);
        CMapM<Real> xs(x + row * d.D, n, d.D), dys(dy + row * d.D, n, d.D);
        CMapM<Real> a(a_in + row * d.F, n, d.F), g(g_in + row * d.F, n, d.F);
        CMapM<Real> w1(wbar + (0 * kChunk + j) * P, d.D, d.F);
        CMapM<Real> w3(wbar + (1 * kChunk + j) * P, d.D, d.F);
        CMapM<Real> w2(wbar + (2 * kChunk + j) * P, d.F, d.D);
        sg = LORY_SIGMOID(a).matrix();
        const auto aa = a.array(), sa = sg.array();
        dh.noalias() = dys * w2.transpose();
        h = (aa * sa * g.array()).matrix();
        da = (dh.array() * g.array() * (sa * (Real(1) + aa * (Real(1) - sa)))).matrix();
        dg = (dh.array() * (aa * sa)).matrix();
        MapM<Real>(gbuf + (0 * kChunk + j) * P, d.D, d.F).noalias() = xs.transpose() * da;
        MapM<Real>(gbuf + (1 * kChunk + j) * P, d.D, d.F).noalias() = xs.transpose() * dg;
        MapM<Real>(gbuf + (2 * kChunk + j) * P, d.F, d.D).noalias() = h.transpose() * dys;
        if (dx) {
          MapM<Real> dxs(dx + row * d.D, n, d.D);
          dxs.noalias() = da * w1.transpose();
          dxs.noalias() += dg * w3.transpose();
        }
      }
    });
    Real* const dw[3] = {static_cast<Real*>(out.dw[0]), static_cast<Real*>(out.dw[1]),
                         static_cast<Real*>(out.dw[2])};
    chunk_gradients<Real>(d, sc, route + c0 * d.E, gbuf, w, droute ? droute + c0 * d.E : nullptr,
                          dw);
  }
}

#undef LORY_SIGMOID

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
  LORY_CHECK(w1.size(1) == d.D, op, ": w1 has shape ", w1.shape().str(), " but x has width D=",
             d.D, "; expected (E, D, F)");
  LORY_CHECK(w2.shape() == Shape({d.E, d.F, d.D}), op, ": w2 has shape ", w2.shape().str(),
             "; expected (E, F, D) = ", Shape({d.E, d.F, d.D}).str());
  LORY_CHECK(route.shape() == Shape({d.B, d.N, d.E}), op, ": route has shape ",
             route.shape().str(), "; expected (B, ceil(L/T), E) = ",
             Shape({d.B, d.N, d.E}).str(), " for x ", x.shape().str(), " and T=", T);
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
                           w1.raw_data(), w3.raw_data(), w2.raw_data(), y.raw_data(),
                           a.raw_data(), g.raw_data());
  } else {
    Tensor wbar = Tensor::empty({3, kChunk, d.D * d.F}, dt);  // scratch, freed on return
    dispatch_float(dt, "lory_ffn", [&](auto zero) {
      using Real = decltype(zero);
      const Real* w[3] = {w1.data<Real>(), w3.data<Real>(), w2.data<Real>()};
      forward_kernel<Real>(d, x.data<Real>(), route.data<Real>(), w, wbar.data<Real>(),
                           y.data<Real>(), a.data<Real>(), g.data<Real>());
    });
  }
  Tensor xs = x.detach(), rs = route.detach(), w1s = w1.detach(), w3s = w3.detach(),
         w2s = w2.detach();
  return record("lory_ffn", y, {x, route, w1, w3, w2},
                [=](const Tensor& dy, const std::vector<bool>& needs) {
                  std::vector<Tensor> grads(5);
                  Grads out;
                  if (needs[0]) out.dx = (grads[0] = Tensor::empty(xs.shape(), dt, dev)).raw_data();
                  if (needs[1]) out.droute = (grads[1] = Tensor::empty(rs.shape(), dt, dev)).raw_data();
                  const Tensor* ws[3] = {&w1s, &w3s, &w2s};
                  for (int m = 0; m < 3; ++m)
                    if (needs[2 + m])
                      out.dw[m] = (grads[2 + m] = Tensor::zeros(ws[m]->shape(), dt, dev)).raw_data();
                  if (dev == Device::cuda) {
                    cuda::lory_ffn_backward(dt, d.B, d.L, d.D, d.F, d.E, d.T, dy.raw_data(),
                                            xs.raw_data(), rs.raw_data(), w1s.raw_data(),
                                            w3s.raw_data(), w2s.raw_data(), a.raw_data(),
                                            g.raw_data(), out.dx, out.droute, out.dw[0],
                                            out.dw[1], out.dw[2]);
                    return grads;
                  }
                  Tensor wbar = Tensor::empty({3, kChunk, d.D * d.F}, dt);
                  Tensor gbuf = Tensor::empty({3, kChunk, d.D * d.F}, dt);
                  dispatch_float(dt, "lory_ffn", [&](auto zero) {
                    using Real = decltype(zero);
                    const Real* w[3] = {w1s.data<Real>(), w3s.data<Real>(), w2s.data<Real>()};
                    backward_kernel<Real>(d, dy.data<Real>(), xs.data<Real>(), rs.data<Real>(), w,
                                          a.data<Real>(), g.data<Real>(), wbar.data<Real>(),
                                          gbuf.data<Real>(), out);
                  });
                  return grads;
                });
}

}  // namespace lory::ops
