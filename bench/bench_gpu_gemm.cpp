// bench_gpu_gemm: the measured cuBLAS GEMM throughput of this GPU (through lory::cuda::gemm, the
// path every op takes) in fp32, TF32 and bf16, at a large square shape and at the model's GEMM
// shapes. Each figure is the median of several CUDA-event timings. Its bf16 row at 8192³ is
// what the other tools quote as "the measured bf16 GEMM peak".
//
//   ./build/bench_gpu_gemm [reps]      (default 9; exits 0 with a message where there is no GPU)
//
// Measured on one H200 (cuBLAS 13, 2026-11-28, `bench_gpu_gemm 7`), TFLOP/s fp32 / TF32 / bf16:
//   square 8192³ 51.0 / 398 / 770;  FFN up 16384×1024×2752 48.6 / 318 / 663;
//   Lory segment FFN 64 × 256×1024×2752 49.5 / 255 / 624;  merge (memory-bound) 11 / 12 / 19.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/cuda/blas.h"
#include "core/cuda/timer.h"
#include "core/precision.h"
#include "core/random.h"
#include "core/storage.h"
#include "core/tensor.h"

using namespace lory;

namespace {

using bench::median;

struct Shape3 {
  const char* name;
  int64_t batch, M, N, K;  // batch GEMMs C (M, N) = A (M, K) · B (K, N), row-major
};

// D = 1024, F = 64·ceil(D/24) = 2752, B·L = 4·4096 rows, E = 8, T = 256 (B·N = 64 segments).
const std::vector<Shape3> kShapes = {
    {"square 8192^3", 1, 8192, 8192, 8192},
    {"square 4096^3", 1, 4096, 4096, 4096},
    {"ffn up     (16384x1024)(1024x2752)", 1, 16384, 2752, 1024},
    {"ffn down   (16384x2752)(2752x1024)", 1, 16384, 1024, 2752},
    {"lm head    (16384x1024)(1024x32000)", 1, 16384, 32000, 1024},
    {"lory seg   64 x (256x1024)(1024x2752)", 64, 256, 2752, 1024},
    {"lory merge (64x8)(8x2818048) [mem-bound]", 1, 64, 1024 * 2752, 8},
};

// Median TFLOP/s of `reps` timings; each timing covers `inner` back-to-back calls so that it
// lasts about a millisecond or more (event resolution is ~0.5 µs).
double measure(const Shape3& s, DType dt, const Tensor& a, const Tensor& b, Tensor& c, int reps) {
  const double flops = 2.0 * s.batch * s.M * s.N * s.K;
  const int inner = static_cast<int>(std::clamp(2e12 / flops, 1.0, 100.0));
  auto call = [&] {
    for (int i = 0; i < inner; ++i)
      cuda::gemm(dt, false, false, s.M, s.N, s.K, 1.0f, a.raw_data(), s.K, b.raw_data(), s.N,
                 0.0f, c.raw_data(), s.N, s.batch, s.M * s.K, s.K * s.N, s.M * s.N);
  };
  float ms = 0;
  cuda::time_ms(call, &ms);  // warm-up: cuBLAS heuristics, clocks
  std::vector<double> tflops;
  for (int r = 0; r < reps; ++r) {
    cuda::time_ms(call, &ms);
    tflops.push_back(flops * inner / (ms * 1e-3) / 1e12);
  }
  return median(tflops);
}

}  // namespace

int main(int argc, char** argv) {
  if (!cuda::available()) {
    std::printf("bench_gpu_gemm: no GPU (no CUDA device, or a build without CUDA); nothing measured\n");
    return 0;
  }
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 9;
  std::printf("bench_gpu_gemm: cuBLAS through lory::cuda::gemm, median of %d CUDA-event timings\n",
              reps);
  std::printf("%-42s %10s %10s %10s   (TFLOP/s)\n", "shape (batch x (MxK)(KxN))", "fp32", "tf32",
              "bf16");
  Generator gen(1);
  for (const Shape3& s : kShapes) {
    // Random operands (data-dependent power draw makes zeros unrepresentative), made in f32 on
    // the CPU and cast per dtype.
    Tensor a32 = Tensor::randn({s.batch, s.M, s.K}, gen).to(Device::cuda);
    Tensor b32 = Tensor::randn({s.batch, s.K, s.N}, gen).to(Device::cuda);
    Tensor c32 = Tensor::empty({s.batch, s.M, s.N}, DType::f32, Device::cuda);
    double fp32, tf32, bf16;
    {
      Tf32Guard exact(false);
      fp32 = measure(s, DType::f32, a32, b32, c32, reps);
    }
    {
      Tf32Guard fast(true);
      tf32 = measure(s, DType::f32, a32, b32, c32, reps);
    }
    c32 = Tensor();
    Tensor a16 = a32.to(DType::bf16), b16 = b32.to(DType::bf16);
    a32 = b32 = Tensor();
    Tensor c16 = Tensor::empty({s.batch, s.M, s.N}, DType::bf16, Device::cuda);
    bf16 = measure(s, DType::bf16, a16, b16, c16, reps);
    std::printf("%-42s %10.1f %10.1f %10.1f\n", s.name, fp32, tf32, bf16);
    std::fflush(stdout);
  }
  std::printf("measured bf16 GEMM peak: the bf16 figure of 'square 8192^3' above\n");
  return 0;
}
