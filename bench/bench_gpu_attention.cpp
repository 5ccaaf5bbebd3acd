// bench_gpu_attention: the kernel lab for causal attention on the GPU, bf16. Numbered versions,
// each timed forward and forward + backward through the launchers of ops/cuda/attention.h:
//   v1  SIMT (fp32 FMA, ops/cuda/attention.cu)
//   v2  tensor cores (WMMA bf16, fp32 accumulators, ops/cuda/attention_tc*.cu)
// Causal FLOPs: forward 4·B·H·L²·Dh / 2 (Q Kᵀ and P V over half the pairs), backward 2.5× that
// (five products where the forward has two). Each figure is the median of several CUDA-event
// timings. Last, the largest absolute difference of v2's out, dq, dk, dv from v1's.
//
//   ./build/bench_gpu_attention [reps]   (default 5; exits 0 with a message where there is no GPU)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "core/cuda/timer.h"
#include "core/random.h"
#include "core/storage.h"
#include "core/tensor.h"
#include "ops/cuda/attention.h"

using namespace lory;
using ops::cuda::AttentionKernel;

namespace {

struct Case {
  int64_t B, H, L, Dh;
};

// The model's shape (D 512, 8 heads, L 1024, batch 32) and a long-context one.
const Case kCases[] = {{32, 8, 1024, 64}, {4, 16, 4096, 64}};

struct Version {
  const char* name;
  AttentionKernel kernel;
};
const Version kVersions[] = {{"v1 simt", AttentionKernel::simt},
                             {"v2 tensor-core", AttentionKernel::tensor_core}};

// The tensors of one attention call on the GPU in bf16; lse in fp32.
struct Buffers {
  Tensor q, k, v, out, lse, dout, dq, dk, dv;
};

Buffers make_buffers(const Case& s, Generator& gen) {
  Buffers b;
  auto randn = [&] {
    return Tensor::randn({s.B, s.H, s.L, s.Dh}, gen).to(Device::cuda).to(DType::bf16);
  };
  auto empty = [&] { return Tensor::empty({s.B, s.H, s.L, s.Dh}, DType::bf16, Device::cuda); };
  b.q = randn();
  b.k = randn();
  b.v = randn();
  b.dout = randn();
  b.out = empty();
  b.dq = empty();
  b.dk = empty();
  b.dv = empty();
  b.lse = Tensor::empty({s.B, s.H, s.L}, DType::f32, Device::cuda);
  return b;
}

void forward(const Case& s, Buffers& b, AttentionKernel kernel) {
  ops::cuda::causal_attention_forward(DType::bf16, b.q.raw_data(), b.k.raw_data(), b.v.raw_data(),
                                      b.out.raw_data(), b.lse.raw_data(), s.B * s.H, s.L, s.L,
                                      s.Dh, kernel);
}

void backward(const Case& s, Buffers& b, AttentionKernel kernel) {
  ops::cuda::causal_attention_backward(
      DType::bf16, b.q.raw_data(), b.k.raw_data(), b.v.raw_data(), b.out.raw_data(),
      b.lse.raw_data(), b.dout.raw_data(), b.dq.raw_data(), b.dk.raw_data(), b.dv.raw_data(),
      s.B * s.H, s.L, s.L, s.Dh, kernel);
}

double median_ms(const std::function<void()>& work, int reps) {
  float ms = 0;
  cuda::time_ms(work, &ms);  // warm-up (and the shared-memory attribute, set once)
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    cuda::time_ms(work, &ms);
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, static_cast<double>(std::fabs(x[i] - y[i])));
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  if (!cuda::available()) {
    std::printf("bench_gpu_attention: no GPU (no CUDA device, or a build without CUDA); nothing "
                "measured\n");
    return 0;
  }
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  std::printf("bench_gpu_attention: causal attention, bf16, median of %d CUDA-event timings\n",
              reps);
  std::printf("%-26s %-16s %9s %9s %10s %10s\n", "shape (B,H,L,Dh)", "version", "fwd ms",
              "fwd TF/s", "f+b ms", "f+b TF/s");
  for (const Case& s : kCases) {
    Generator gen(1);
    Buffers b = make_buffers(s, gen);
    const double fwd_flops = 4.0 * s.B * s.H * s.L * s.L * s.Dh / 2;
    char label[64];
    std::snprintf(label, sizeof label, "(%lld,%lld,%lld,%lld)", (long long)s.B, (long long)s.H,
                  (long long)s.L, (long long)s.Dh);
    std::vector<Tensor> results[2];
    for (int ver = 0; ver < 2; ++ver) {
      const AttentionKernel kernel = kVersions[ver].kernel;
      const double fwd = median_ms([&] { forward(s, b, kernel); }, reps);
      const double both = median_ms(
          [&] {
            forward(s, b, kernel);
            backward(s, b, kernel);
          },
          reps);
      std::printf("%-26s %-16s %9.3f %9.1f %10.3f %10.1f\n", label, kVersions[ver].name, fwd,
                  fwd_flops / (fwd * 1e-3) / 1e12, both, 3.5 * fwd_flops / (both * 1e-3) / 1e12);
      std::fflush(stdout);
      results[ver] = {b.out.to(Device::cpu), b.dq.to(Device::cpu), b.dk.to(Device::cpu),
                      b.dv.to(Device::cpu)};
    }
    const char* names[] = {"out", "dq", "dk", "dv"};
    std::printf("%-26s max |v2 - v1|:", label);
    for (int t = 0; t < 4; ++t)
      std::printf("  %s %.2e", names[t], max_abs_diff(results[1][t], results[0][t]));
    std::printf("\n");
  }
  return 0;
}
