// lory_ffn on the GPU: the merges, per-segment FFNs and their gradients as cuBLAS GEMMs
// (core/cuda/blas.h), SwiGLU in small elementwise kernels. Derivation in ops/lory_ffn.cpp.
//
// Segments s = (b, k) are processed in chunks of Sc segments whose merged weights fit a fixed
// memory budget. Per chunk, with P = D·F and m = 1, 3, 2:
//   merge:     Wbar_m (Sc × P) = route (Sc × E) · W_m (E × P)              one GEMM per m
//   forward:   a = x·Wbar1, g = x·Wbar3, h = silu(a) ⊙ g, y = h·Wbar2       batched over segments
//   backward:  dh = dy·Wbar2ᵀ;  da, dg, h from (a, g, dh);  G1 = xᵀ·da, G3 = xᵀ·dg, G2 = hᵀ·dy;
//              dx = da·Wbar1ᵀ + dg·Wbar3ᵀ                                     batched over segments
//              droute (Sc × E) = Σ_m G_m (Sc × P) · W_mᵀ                      one GEMM per m
//              dW_m (E × P) += routeᵀ (E × Sc) · G_m (Sc × P)                 one GEMM per m
// No atomics: every output element is written by one GEMM or kernel, and dW sums the chunks in
// chunk order (beta = 1 after the first), so results are deterministic.
#include <algorithm>
#include <vector>

#include "core/cuda/blas.h"
#include "core/cuda/device.cuh"
#include "ops/cuda/lory_ffn.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

// Bytes of one chunk's merged weights (Wbar1, Wbar3, Wbar2 together; G takes as much again in
// backward); see lory_ffn_set_chunk_bytes. The CPU's kChunk of 8 segments would leave the GPU
// idle between tiny GEMMs.
int64_t chunk_bytes = int64_t{1} << 30;

struct Dims {
  int64_t B, L, D, F, E, T, N;
  int64_t S() const { return B * N; }
  int64_t P() const { return D * F; }
  int64_t first_row(int64_t s) const { return (s / N) * L + (s % N) * T; }
  int64_t rows(int64_t s) const { return std::min(L, (s % N + 1) * T) - (s % N) * T; }
};

// Segments per chunk: as many as the budget holds, evened out over the chunks that needs. Depends
// only on the shapes, the dtype and the budget, so repeated calls chunk (and round) alike.
int64_t chunk_segments(const Dims& d, size_t elem) {
  const int64_t per_segment = 3 * d.P() * static_cast<int64_t>(elem);
  const int64_t cap = std::max<int64_t>(1, chunk_bytes / per_segment);
  const int64_t chunks = (d.S() + cap - 1) / cap;
  return (d.S() + chunks - 1) / chunks;
}

// A run: consecutive segments of a chunk with equal row counts. Segment s+1 starts on the row
// where segment s ends (also across sequences: (b+1)·L), so a run's segments lie `rows` rows
// apart in x viewed as (B·L, D): one strided-batched GEMM per run. All segments of a sequence but
// the last have T rows, so a chunk has at most two runs per sequence, one when T divides L.
struct Run {
  int64_t j0;     // index of its first segment within the chunk
  int64_t count;  // segments
  int64_t rows;   // rows per segment
  int64_t row0;   // first row of its first segment, in (B·L) rows
};

std::vector<Run> runs_of(const Dims& d, int64_t c0, int64_t sc) {
  std::vector<Run> runs;
  for (int64_t j = 0; j < sc; ++j) {
    const int64_t s = c0 + j, n = d.rows(s);
    if (!runs.empty() && runs.back().rows == n)
      ++runs.back().count;
    else
      runs.push_back({j, 1, n, d.first_row(s)});
  }
  return runs;
}

template <typename A>
__device__ __forceinline__ A sigmoid(A v) {
  return A(1) / (A(1) + exp(-v));
}

// h = silu(a) ⊙ g over n elements.
template <typename T>
__global__ void swiglu_forward_kernel(const T* a, const T* g, T* h, int64_t n) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(i, n) {
    A av = to_acc(a[i]);
    h[i] = from_acc<T>(av * sigmoid(av) * to_acc(g[i]));
  }
}

// In: a, g and dh (in da). Out: da = dh ⊙ g ⊙ silu'(a), dg = dh ⊙ silu(a), h = silu(a) ⊙ g,
// with silu'(a) = σ(a)(1 + a(1 − σ(a))). Each thread reads dh[i] before writing da[i].
template <typename T>
__global__ void swiglu_backward_kernel(const T* a, const T* g, T* da, T* dg, T* h, int64_t n) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(i, n) {
    A av = to_acc(a[i]), gv = to_acc(g[i]), dh = to_acc(da[i]);
    A sg = sigmoid(av), silu = av * sg;
    h[i] = from_acc<T>(silu * gv);
    dg[i] = from_acc<T>(dh * silu);
    da[i] = from_acc<T>(dh * gv * (sg * (A(1) + av * (A(1) - sg))));
  }
}

// Wbar_m[j] = Σ_i route[c0 + j, i] · W_m[i] for the chunk's sc segments; Wbar_m at wbar + m·cap·P.
template <typename T>
void merge_chunk(DType dt, const Dims& d, int64_t c0, int64_t sc, int64_t cap, const T* route,
                 const T* const w[3], T* wbar) {
  const int64_t P = d.P();
  for (int m = 0; m < 3; ++m)
    gemm(dt, false, false, sc, P, d.E, 1.0f, route + c0 * d.E, d.E, w[m], P, 0.0f,
         wbar + m * cap * P, P);
}

// Rows covered by the chunk [c0, c0 + sc): [first_row(c0), end).
int64_t chunk_end_row(const Dims& d, int64_t c0, int64_t sc) {
  const int64_t last = c0 + sc - 1;
  return d.first_row(last) + d.rows(last);
}

template <typename T>
void forward(DType dt, const Dims& d, const T* x, const T* route, const T* const w[3], T* y, T* a,
             T* g) {
  const int64_t P = d.P(), S = d.S(), D = d.D, F = d.F;
  const int64_t cap = chunk_segments(d, sizeof(T));
  Scratch<T> wbar_buf(3 * cap * P);
  Scratch<T> h_buf(std::min(cap * d.T, d.B * d.L) * F);  // a chunk holds at most cap·T rows
  T* wbar = wbar_buf.get();
  T* h = h_buf.get();
  const T* w1 = wbar;
  const T* w3 = wbar + cap * P;
  const T* w2 = wbar + 2 * cap * P;
  for (int64_t c0 = 0; c0 < S; c0 += cap) {
    const int64_t sc = std::min(cap, S - c0);
    merge_chunk(dt, d, c0, sc, cap, route, w, wbar);
    const int64_t r0 = d.first_row(c0), nrows = chunk_end_row(d, c0, sc) - r0;
    const std::vector<Run> runs = runs_of(d, c0, sc);
    for (const Run& r : runs) {
      const int64_t n = r.rows;
      gemm(dt, false, false, n, F, D, 1.0f, x + r.row0 * D, D, w1 + r.j0 * P, F, 0.0f,
           a + r.row0 * F, F, r.count, n * D, P, n * F);
      gemm(dt, false, false, n, F, D, 1.0f, x + r.row0 * D, D, w3 + r.j0 * P, F, 0.0f,
           g + r.row0 * F, F, r.count, n * D, P, n * F);
    }
    swiglu_forward_kernel<T><<<grid_for(nrows * F), kThreads>>>(a + r0 * F, g + r0 * F, h,
                                                                 nrows * F);
    CUDA_CHECK_LAUNCH();
    for (const Run& r : runs) {
      const int64_t n = r.rows;
      gemm(dt, false, false, n, D, F, 1.0f, h + (r.row0 - r0) * F, F, w2 + r.j0 * P, D, 0.0f,
           y + r.row0 * D, D, r.count, n * F, P, n * D);
    }
  }
}

struct Grads {
  void* dx;
  void* droute;
  void* dw[3];
};

template <typename T>
void backward(DType dt, const Dims& d, const T* dy, const T* x, const T* route,
              const T* const w[3], const T* a, const T* g, const Grads& out) {
  const int64_t P = d.P(), S = d.S(), D = d.D, F = d.F, E = d.E;
  const int64_t cap = chunk_segments(d, sizeof(T));
  const int64_t max_rows = std::min(cap * d.T, d.B * d.L);
  Scratch<T> wbar_buf(3 * cap * P), gw_buf(3 * cap * P);
  Scratch<T> h_buf(max_rows * F), da_buf(max_rows * F), dg_buf(max_rows * F);
  T* wbar = wbar_buf.get();
  T* gw = gw_buf.get();  // G1, G3, G2 at gw + m·cap·P
  T *h = h_buf.get(), *da = da_buf.get(), *dg = dg_buf.get();
  const T* w1 = wbar;
  const T* w3 = wbar + cap * P;
  const T* w2 = wbar + 2 * cap * P;
  T* g1 = gw;
  T* g3 = gw + cap * P;
  T* g2 = gw + 2 * cap * P;
  T* dx = static_cast<T*>(out.dx);
  T* droute = static_cast<T*>(out.droute);
  for (int64_t c0 = 0; c0 < S; c0 += cap) {
    const int64_t sc = std::min(cap, S - c0);
    merge_chunk(dt, d, c0, sc, cap, route, w, wbar);
    const int64_t r0 = d.first_row(c0), nrows = chunk_end_row(d, c0, sc) - r0;
    const std::vector<Run> runs = runs_of(d, c0, sc);
    for (const Run& r : runs) {  // dh = dy·Wbar2ᵀ (Wbar2 stored (F, D)), into da
      const int64_t n = r.rows;
      gemm(dt, false, true, n, F, D, 1.0f, dy + r.row0 * D, D, w2 + r.j0 * P, D, 0.0f,
           da + (r.row0 - r0) * F, F, r.count, n * D, P, n * F);
    }
    swiglu_backward_kernel<T><<<grid_for(nrows * F), kThreads>>>(a + r0 * F, g + r0 * F, da, dg,
                                                                  h, nrows * F);
    CUDA_CHECK_LAUNCH();
    for (const Run& r : runs) {
      const int64_t n = r.rows, lr = r.row0 - r0;
      // G1 = xᵀ·da, G3 = xᵀ·dg (D × F); G2 = hᵀ·dy (F × D). x, da, dg, h stored (n, ·).
      gemm(dt, true, false, D, F, n, 1.0f, x + r.row0 * D, D, da + lr * F, F, 0.0f,
           g1 + r.j0 * P, F, r.count, n * D, n * F, P);
      gemm(dt, true, false, D, F, n, 1.0f, x + r.row0 * D, D, dg + lr * F, F, 0.0f,
           g3 + r.j0 * P, F, r.count, n * D, n * F, P);
      gemm(dt, true, false, F, D, n, 1.0f, h + lr * F, F, dy + r.row0 * D, D, 0.0f,
           g2 + r.j0 * P, D, r.count, n * F, n * D, P);
      if (dx) {  // dx = da·Wbar1ᵀ + dg·Wbar3ᵀ (Wbar1, Wbar3 stored (D, F))
        gemm(dt, false, true, n, D, F, 1.0f, da + lr * F, F, w1 + r.j0 * P, F, 0.0f,
             dx + r.row0 * D, D, r.count, n * F, P, n * D);
        gemm(dt, false, true, n, D, F, 1.0f, dg + lr * F, F, w3 + r.j0 * P, F, 1.0f,
             dx + r.row0 * D, D, r.count, n * F, P, n * D);
      }
    }
    if (droute)  // droute[c0 : c0+sc] = Σ_m G_m · W_mᵀ (W_m stored (E, P))
      for (int m = 0; m < 3; ++m)
        gemm(dt, false, true, sc, E, P, 1.0f, gw + m * cap * P, P, w[m], P, m == 0 ? 0.0f : 1.0f,
             droute + c0 * E, E);
    for (int m = 0; m < 3; ++m)  // dW_m (+)= routeᵀ·G_m (the chunk's route stored (sc, E))
      if (out.dw[m])
        gemm(dt, true, false, E, P, sc, 1.0f, route + c0 * E, E, gw + m * cap * P, P,
             c0 == 0 ? 0.0f : 1.0f, static_cast<T*>(out.dw[m]), P);
  }
}

void zero(void* p, int64_t elems, DType dt) {
  if (p && elems > 0) memset_zero(p, static_cast<size_t>(elems) * dtype_size(dt));
}

// With no segments, no experts or an empty width every output is zero (or empty); cuBLAS would
// reject the zero leading dimensions.
bool degenerate(const Dims& d) {
  return d.S() == 0 || d.D == 0 || d.F == 0 || d.E == 0;
}

}  // namespace

void lory_ffn_set_chunk_bytes(int64_t bytes) { chunk_bytes = bytes; }

void lory_ffn_forward(DType dt, int64_t B, int64_t L, int64_t D, int64_t F, int64_t E, int64_t T,
                      const void* x, const void* route, const void* w1, const void* w3,
                      const void* w2, void* y, void* a, void* g) {
  const Dims d{B, L, D, F, E, T, (L + T - 1) / T};
  if (degenerate(d)) {
    zero(y, B * L * D, dt);
    zero(a, B * L * F, dt);
    zero(g, B * L * F, dt);
    return;
  }
  dispatch_cuda_float(dt, "lory_ffn", [&](auto zero_value) {
    using T_ = decltype(zero_value);
    const T_* w[3] = {static_cast<const T_*>(w1), static_cast<const T_*>(w3),
                      static_cast<const T_*>(w2)};
    forward<T_>(dt, d, static_cast<const T_*>(x), static_cast<const T_*>(route), w,
                static_cast<T_*>(y), static_cast<T_*>(a), static_cast<T_*>(g));
  });
}

void lory_ffn_backward(DType dt, int64_t B, int64_t L, int64_t D, int64_t F, int64_t E,
                       int64_t T, const void* dy, const void* x, const void* route,
                       const void* w1, const void* w3, const void* w2, const void* a,
                       const void* g, void* dx, void* droute, void* dw1, void* dw3, void* dw2) {
  const Dims d{B, L, D, F, E, T, (L + T - 1) / T};
  if (degenerate(d)) {
    zero(dx, B * L * D, dt);
    zero(droute, d.S() * E, dt);
    for (void* dw : {dw1, dw3, dw2}) zero(dw, E * D * F, dt);
    return;
  }
  const Grads out{dx, droute, {dw1, dw3, dw2}};
  dispatch_cuda_float(dt, "lory_ffn backward", [&](auto zero_value) {
    using T_ = decltype(zero_value);
    const T_* w[3] = {static_cast<const T_*>(w1), static_cast<const T_*>(w3),
                      static_cast<const T_*>(w2)};
    backward<T_>(dt, d, static_cast<const T_*>(dy), static_cast<const T_*>(x),
                 static_cast<const T_*>(route), w, static_cast<const T_*>(a),
                 static_cast<const T_*>(g), out);
  });
}

}  // namespace lory::ops::cuda
