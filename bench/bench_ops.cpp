// bench_ops: forward + backward time of the fused ops at cpu-small transformer shapes (B8, L256,
// D256, H4, V4096), as GB/s of compulsory memory traffic (memory-bound ops) or GFLOP/s
// (attention), beside this machine's measured copy bandwidth and FP32 FMA peak.
//
//   ./build/bench_ops [reps] [threads]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "core/cpu_peak.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {

double median_ms(const std::function<void()>& fn, int reps) {
  fn();  // warm-up
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Copy bandwidth (read + write) of a 256 MiB buffer split across the threads.
double copy_gbs(int reps) {
  const int64_t n = 64 << 20;
  std::vector<float> a(n, 1.0f), b(n);
  const double ms = median_ms([&] {
    parallel_for(n, 1 << 20, [&](int64_t lo, int64_t hi) {
      std::memcpy(b.data() + lo, a.data() + lo, (hi - lo) * sizeof(float));
    });
  }, reps);
  return 2.0 * n * sizeof(float) / (ms / 1e3) / 1e9;
}

// Forward then backward of `fn` on inputs that require grad, seeded with ones.
std::function<void()> fwd_bwd(std::function<Tensor()> fn) {
  return [fn] {
    Tensor y = fn();
    y.backward(Tensor::ones(y.shape(), y.dtype()));
  };
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 7;
  const int threads = argc > 2 ? std::atoi(argv[2]) : num_threads();
  set_num_threads(threads);
  const double bandwidth = copy_gbs(reps);
  const CpuPeak peak = measure_cpu_peak(threads, 3);
  const double peak_gflops = peak.core_gflops * threads;
  std::printf("%d threads; measured copy bandwidth %.1f GB/s; FP32 FMA peak %.1f GFLOP/s\n", threads,
              bandwidth, peak_gflops);
  std::printf("median of %d forward+backward calls; traffic = bytes each pass must move at least\n\n", reps);
  std::printf("%-34s %9s %12s %10s\n", "op (shapes)", "ms", "rate", "of peak");

  const int64_t B = 8, L = 256, D = 256, H = 4, Dh = D / H, V = 4096, F = 704;
  Generator gen(1);
  auto param = [&](const Shape& s) { return Tensor::randn(s, gen, 1.0).set_requires_grad(); };
  auto mem_row = [&](const char* name, double bytes, const std::function<void()>& fn) {
    const double ms = median_ms(fn, reps);
    const double gbs = bytes / (ms / 1e3) / 1e9;
    std::printf("%-34s %9.2f %8.1f GB/s %9.0f%%\n", name, ms, gbs, 100 * gbs / bandwidth);
  };
  const double f4 = 4;
  Tensor x = param({B, L, D}), w = param({D});
  mem_row("rmsnorm (8,256,256)", f4 * B * L * D * 5, fwd_bwd([&] { return ops::rmsnorm(x, w); }));
  Tensor a = param({B, L, F}), b = param({B, L, F});
  mem_row("swiglu (8,256,704) x2", f4 * B * L * F * 7, fwd_bwd([&] { return ops::swiglu(a, b); }));
  Tensor logits = param({B * L, V});
  std::vector<int32_t> t(B * L);
  for (auto& v : t) v = static_cast<int32_t>(gen.below(V));
  Tensor targets = Tensor::from_vector(t, {B * L});
  mem_row("cross_entropy (2048,4096)", f4 * B * L * V * 3, fwd_bwd([&] { return ops::cross_entropy(logits, targets); }));
  mem_row("softmax (2048,4096)", f4 * B * L * V * 5, fwd_bwd([&] { return ops::softmax(logits); }));
  Tensor q = param({B, H, L, Dh}), k = param({B, H, L, Dh}), v = param({B, H, L, Dh});
  mem_row("rope (8,4,256,64)", f4 * B * L * D * 4, fwd_bwd([&] { return ops::rope(q); }));
  mem_row("permute (8,256,4,64)->(8,4,256,64)", f4 * B * L * D * 4,
          fwd_bwd([&] { return ops::permute(ops::reshape(x, Shape{B, L, H, Dh}), {0, 2, 1, 3}); }));
  mem_row("segment_mean (8,256,256) T64", f4 * B * L * D * 2, fwd_bwd([&] { return ops::segment_mean(x, 64); }));
  // Causal attention: QKᵀ and PV over L/2 keys on average, forward 4·L·L/2·Dh per head, backward
  // (recomputing P) about 2.5x that.
  const double attn_flops = 3.5 * 4.0 * B * H * L * (L / 2.0) * Dh;
  const double ms = median_ms(fwd_bwd([&] { return ops::causal_attention(q, k, v); }), reps);
  const double gf = attn_flops / (ms / 1e3) / 1e9;
  std::printf("%-34s %9.2f %6.1f GFLOP/s %9.0f%%\n", "causal_attention (8,4,256,64)", ms, gf, 100 * gf / peak_gflops);
  return 0;
}
