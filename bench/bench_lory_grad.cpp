// bench_lory_grad: one weight-gradient phase of the CPU Lory FFN's backward, taken apart (one
// thread, cpu-small's G1 = xᵀ·da: M = D = 256, N = F = 704, over B·L = 2048 rows in segments
// of T = 64, E = 8 experts). The phase (ops/lory_ffn.cpp, merge_gradients_fused) computes every
// 6 × 16 micro-tile of each segment's G_s = A_sᵀ·B_s at depth T with the GEMM's micro-kernel,
// dots it with the E experts' tiles (the router gradient) and folds the segments' micro-tiles
// into the E expert gradients. Here the same loops run with parts switched off, beside the
// reference: the packed GEMM computing the same FLOPs as one dense weight gradient (depth 2048),
// which is what the dense FFN pays for it.
//
//   ./build/bench_lory_grad [reps]      (default 15; prints the fastest and the median run)
//
// GFLOP/s count the G products only (2·M·N·rows): the dots and folds add 2E/T = 25% more FMAs,
// which is overhead the Lory layer pays on top.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "bench/bench_util.h"
#include "core/cpu/aligned_vector.h"
#include "core/cpu/gemm.h"
#include "core/cpu_peak.h"
#include "ops/lory_ffn_kernels.h"

using namespace lory;

#ifndef LORY_LORY_KERNELS_AVX2
int main() {
  std::printf(
      "bench_lory_grad: this build has no AVX2 kernels (the fused schedule is AVX2 only)\n");
}
#else

namespace {

constexpr int64_t M = 256, N = 704, R = 2048, T = 64, S = R / T, E = 8;
constexpr int64_t kRows = 72, kCols = 64, kMicro = ops::lory_kernels::kMicroTile, kGroup = 32;

struct Parts {
  bool stream = true;  // segments read their own rows (false: every segment reads the first)
  bool micro = true, dots = true, fold = true, copies = true;
};

struct Operands {
  cpu::AlignedVector<float> apanels, bpanels, w, dw, route, partial;
};

// The fused schedule's loops (tasks of kRows × kCols, column panels outside, row panels inside,
// segments innermost), with the parts of `p` switched on.
void phase(const Operands& o, Parts p) {
  namespace lk = ops::lory_kernels;
  const int64_t col_tiles = (N + kCols - 1) / kCols, tiles = (M + kRows - 1) / kRows * col_tiles;
  cpu::AlignedVector<float> lanes(S * E * 8), wt(E * kMicro), dwt(E * kMicro), gt(kGroup * kMicro);
  float* dw = const_cast<float*>(o.dw.data());
  for (int64_t t = 0; t < tiles; ++t) {
    std::fill(lanes.begin(), lanes.end(), 0.0f);
    const int64_t r0 = t / col_tiles * kRows, c0 = t % col_tiles * kCols;
    const int64_t r1 = std::min(M, r0 + kRows), c1 = std::min(N, c0 + kCols);
    for (int64_t j = c0; j < c1; j += cpu::kPackWidth)
      for (int64_t i = r0; i < r1; i += cpu::kPackRows) {
        const int64_t mm = std::min(cpu::kPackRows, r1 - i), nn = std::min(cpu::kPackWidth, c1 - j);
        if (p.copies) lk::copy_micro_tiles(E, o.w.data() + i * N + j, N, M * N, mm, nn, wt.data());
        const float* a = o.apanels.data() + i * R;
        const float* b = o.bpanels.data() + j * R;
        for (int64_t s0 = 0; s0 < S; s0 += kGroup) {
          const int64_t sg = std::min(kGroup, S - s0);
          for (int64_t s = s0; s < s0 + sg && p.micro; ++s) {
            const int64_t r = p.stream ? s * T : 0;
            lk::micro_tile_dots(T, a + r * cpu::kPackRows, b + r * cpu::kPackWidth, E, wt.data(),
                                gt.data() + (s - s0) * kMicro,
                                p.dots ? lanes.data() + s * E * 8 : nullptr);
          }
          if (p.fold)
            lk::fold_segments(E, sg, o.route.data() + s0 * E, gt.data(), dwt.data(), s0 > 0);
        }
        if (p.copies) lk::store_micro_tiles(E, dwt.data(), mm, nn, dw + i * N + j, N, M * N);
      }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  const double peak = measure_cpu_peak(1, 3).core_gflops;
  std::printf(
      "weight-gradient phase of the Lory FFN: G = A^T B per segment, M %lld N %lld, %lld "
      "rows in %lld segments of T %lld, E %lld; 1 thread; FP32 peak %.1f GFLOP/s\n",
      (long long)M, (long long)N, (long long)R, (long long)S, (long long)T, (long long)E, peak);
  std::printf(
      "GFLOP/s of the G products (2 M N rows = %.2f GFLOP); fastest and median of %d runs\n\n",
      2e-9 * M * N * R, reps);

  Operands o;
  std::vector<float> x(R * M), da(R * N);
  for (size_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>(k % 17) * 0.01f;
  for (size_t k = 0; k < da.size(); ++k) da[k] = static_cast<float>(k % 13) * 0.01f;
  o.apanels.resize(cpu::packed_a_size(M, R));
  o.bpanels.resize(cpu::packed_b_size(R, N));
  for (int64_t i = 0; i < M; i += cpu::kPackRows)  // as pack_row_panels: panels over all rows
    cpu::pack_a<float>(true, std::min(cpu::kPackRows, M - i), R, x.data() + i, M,
                       o.apanels.data() + i * R);
  for (int64_t j = 0; j < N; j += cpu::kPackWidth)  // as pack_column_panels
    cpu::pack_b<float>(false, R, std::min(cpu::kPackWidth, N - j), da.data() + j, N,
                       o.bpanels.data() + j * R);
  o.w.assign(E * M * N, 0.01f);
  o.dw.resize(E * M * N);
  o.route.assign(S * E, 1.0f / E);
  std::vector<float> c(M * N);

  auto run = [&](const char* name, const std::function<void()>& fn, bool products = true) {
    fn();
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = bench::Clock::now();
      fn();
      ms.push_back(bench::ms_since(t0));
    }
    const double best = *std::min_element(ms.begin(), ms.end()), gflops = 2e-6 * M * N * R / best;
    std::printf("%-52s %7.2f ms %7.2f ms", name, best, bench::median(ms));
    if (products) std::printf(" %6.1f GFLOP/s %4.0f%%", gflops, 100 * gflops / peak);
    std::printf("\n");
  };
  std::printf("%-52s %10s %10s\n", "", "fastest", "median");
  run("reference: packed GEMM, same FLOPs (depth 2048)", [&] {
    cpu::gemm<float>(true, false, M, N, R, x.data(), M, da.data(), N, c.data(), N, false);
  });
  run(
      "expert tiles copied in and out only",
      [&] {
        phase(o, {true, false, false, false, true});
      },
      false);
  run("micro-tiles only, operands in L1", [&] { phase(o, {false, true, false, false, true}); });
  run("micro-tiles only, operands streamed", [&] { phase(o, {true, true, false, false, true}); });
  run("+ router dot products", [&] { phase(o, {true, true, true, false, true}); });
  run("+ folds into the expert gradients (the op's phase)", [&] { phase(o, Parts{}); });
}
#endif
