// AdamW update and gradient clipping: CPU kernels (f32 and f64 parameters); parameters on the
// GPU go to the multi-tensor kernels of train/cuda/adamw.h (f32, bf16, f64).
//   m ← β1·m + (1−β1)·g        v ← β2·v + (1−β2)·g²
//   θ ← θ − lr·( m/(1−β1ᵗ) / (sqrt(v/(1−β2ᵗ)) + ε) + λ·θ )     (λ only for decayed parameters)
#include "train/adamw.h"

#include <cmath>
#include <type_traits>
#include <utility>

#include "core/autograd.h"
#include "core/dispatch.h"
#include "core/threads.h"
#include "train/cuda/adamw.h"

namespace lory {

void AdamWOptions::check(const std::string& where) const {
  for (const auto& [key, beta] : {std::pair<const char*, double>{"beta1", beta1}, {"beta2", beta2}})
    LORY_CHECK(beta >= 0 && beta < 1, where, key, " is ", beta, "; expected 0 <= value < 1");
  LORY_CHECK(eps > 0, where, "eps is ", eps, "; expected > 0 (it keeps the update finite)");
  LORY_CHECK(weight_decay >= 0, where, "weight_decay is ", weight_decay, "; expected >= 0");
}

AdamW::AdamW(NamedParams params, AdamWOptions options)
    : params_(std::move(params)), options_(std::move(options)) {
  options_.check("AdamW: ");
  for (const auto& [name, p] : params_) {
    LORY_CHECK(p.requires_grad(), "AdamW: parameter '", name, "' does not require grad");
    m_.push_back(Tensor::zeros(p.shape(), DType::f32, p.device()));
    v_.push_back(Tensor::zeros(p.shape(), DType::f32, p.device()));
    bool decay = true;
    for (const auto& pat : options_.no_decay)
      if (name.find(pat) != std::string::npos) decay = false;
    decays_.push_back(decay);
  }
}

namespace {
// The bias corrections as factors, m/(1−β1ᵗ) / (sqrt(v/(1−β2ᵗ)) + ε) = m·inv_c1 / (sqrt(v)·inv_sqrt_c2
// + ε): one division and one square root per element instead of three divisions and a square
// root (they bound the update). The same factors go to the GPU kernel.
struct BiasCorrection {
  double inv_c1, inv_sqrt_c2;
  BiasCorrection(double b1, double b2, int64_t t)
      : inv_c1(1.0 / (1.0 - std::pow(b1, static_cast<double>(t)))),
        inv_sqrt_c2(1.0 / std::sqrt(1.0 - std::pow(b2, static_cast<double>(t)))) {}
};

// The arithmetic runs in the parameters' precision (float32 for float32 parameters, as PyTorch's
// CPU AdamW does; float64 for the gradient checks' float64 models): in float64 the division and
// square root bounded the float32 update at twice its memory time (20 vs 10 ms per 20M
// parameters on 2 cores). The lambda captures by value: captured by reference, the pointers and
// constants were reloaded after every store (they might alias) and the loop stayed scalar.
template <typename T>
void adamw_kernel(T* p, const T* g, float* m, float* v, int64_t n, double lr, double b1, double b2,
                  double eps, double wd, const BiasCorrection& bc) {
  using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const C cb1 = C(b1), cb2 = C(b2), ca1 = C(1 - b1), ca2 = C(1 - b2), clr = C(lr), ceps = C(eps),
          cwd = C(wd), inv_c1 = C(bc.inv_c1), inv_sqrt_c2 = C(bc.inv_sqrt_c2);
  parallel_for(n, 1 << 14, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const C gi = g[i], pi = p[i];
      const C mi = static_cast<float>(cb1 * C(m[i]) + ca1 * gi);  // the moments are stored in float
      const C vi = static_cast<float>(cb2 * C(v[i]) + ca2 * gi * gi);
      m[i] = static_cast<float>(mi);
      v[i] = static_cast<float>(vi);
      const C update = (mi * inv_c1) / (std::sqrt(vi) * inv_sqrt_c2 + ceps) + cwd * pi;
      p[i] = static_cast<T>(pi - clr * update);
    }
  });
}

// Σ x² over a tensor in fixed chunks of 8192, chunk sums added in order: thread-independent.
// Inside a chunk kLanes running sums (lane l takes the elements i ≡ l mod kLanes), added in a
// fixed order at the end: independent chains that vectorise, where one running sum would wait
// on the latency of each add.
template <typename T>
double sum_squares(const T* x, int64_t n) {
  constexpr int64_t kLanes = 16;
  const int64_t chunk = 8192, chunks = (n + chunk - 1) / chunk;
  std::vector<double> partial(chunks, 0.0);
  parallel_for(chunks, 4, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t lo = c * chunk, hi = std::min(n, lo + chunk);
      double lanes[kLanes] = {};
      int64_t i = lo;
      for (; i + kLanes <= hi; i += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) lanes[l] += double(x[i + l]) * x[i + l];
      for (; i < hi; ++i) lanes[(i - lo) % kLanes] += double(x[i]) * x[i];
      double s = 0;
      for (double lane : lanes) s += lane;
      partial[c] = s;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  return total;
}
}  // namespace

namespace {
// The GPU parameters of one dtype with a gradient, as the lists the multi-tensor launchers take.
struct DeviceLists {
  std::vector<void*> x;
  std::vector<const void*> g;
  std::vector<float*> m, v;
  std::vector<int64_t> n;
  std::vector<double> wd;
  int count() const { return static_cast<int>(x.size()); }
};
}  // namespace

void AdamW::step(double lr) {
  NoGradGuard no_grad;
  ++steps_;
  const BiasCorrection bc(options_.beta1, options_.beta2, steps_);
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    DeviceLists gpu;
    for (size_t i = 0; i < params_.size(); ++i) {
      const Tensor& p = params_[i].second;
      Tensor g = p.grad();
      if (!g.defined() || p.device() != Device::cuda || p.dtype() != dt) continue;
      check_same_device(p, g, "AdamW::step", params_[i].first.c_str(), "its gradient");
      check_same_device(p, m_[i], "AdamW::step", params_[i].first.c_str(), "its optimizer state");
      gpu.x.push_back(p.raw_data());
      gpu.g.push_back(g.raw_data());
      gpu.m.push_back(static_cast<float*>(m_[i].raw_data()));
      gpu.v.push_back(static_cast<float*>(v_[i].raw_data()));
      gpu.n.push_back(p.numel());
      gpu.wd.push_back(decays_[i] ? options_.weight_decay : 0.0);
    }
    if (gpu.count() == 0) continue;
    cuda::adamw_step(dt, gpu.count(), gpu.x.data(), gpu.g.data(), gpu.m.data(), gpu.v.data(),
                     gpu.n.data(), gpu.wd.data(), lr, options_.beta1, options_.beta2,
                     options_.eps, bc.inv_c1, bc.inv_sqrt_c2);
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    Tensor g = p.grad();
    if (!g.defined() || p.device() == Device::cuda) continue;
    const double wd = decays_[i] ? options_.weight_decay : 0.0;
    dispatch_float(p.dtype(), "AdamW::step", [&](auto zero) {
      using T = decltype(zero);
      adamw_kernel<T>(p.data<T>(), g.data<T>(), m_[i].data<float>(), v_[i].data<float>(),
                      p.numel(), lr, options_.beta1, options_.beta2, options_.eps, wd, bc);
    });
  }
}

void AdamW::zero_grad() {
  for (auto& [name, p] : params_) Tensor(p).zero_grad();
}

NamedParams AdamW::state() const {
  NamedParams out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.push_back({params_[i].first + ".exp_avg", m_[i]});
    out.push_back({params_[i].first + ".exp_avg_sq", v_[i]});
  }
  return out;
}

void AdamW::load_state(const NamedParams& state, int64_t steps) {
  auto find = [&](const std::string& name) -> const Tensor& {
    for (const auto& [n, t] : state)
      if (n == name) return t;
    LORY_FAIL("optimizer state has no tensor '", name, "'");
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    m_[i].copy_(find(params_[i].first + ".exp_avg"));
    v_[i].copy_(find(params_[i].first + ".exp_avg_sq"));
  }
  steps_ = steps;
}

size_t AdamW::index_of(const std::string& name) const {
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].first == name) return i;
  LORY_FAIL("AdamW: no parameter named '", name, "'");
}
Tensor& AdamW::exp_avg(const std::string& name) { return m_[index_of(name)]; }
Tensor& AdamW::exp_avg_sq(const std::string& name) { return v_[index_of(name)]; }

// The global norm adds the CPU tensors' sums (per tensor, in order), then the GPU tensors' sum
// (per dtype, f32 then bf16 then f64). A model lives on one device, so one of the two is empty.
double clip_grad_norm(const NamedParams& params, double max_norm) {
  double total = 0;
  for (const auto& [name, p] : params) {
    Tensor g = p.grad();
    if (!g.defined() || g.device() == Device::cuda) continue;
    dispatch_float(g.dtype(), "clip_grad_norm", [&](auto zero) {
      using T = decltype(zero);
      total += sum_squares<T>(g.data<T>(), g.numel());
    });
  }
  auto gpu_lists = [&](DType dt, std::vector<void*>& xs, std::vector<int64_t>& ns) {
    for (const auto& [name, p] : params) {
      Tensor g = p.grad();
      if (!g.defined() || g.device() != Device::cuda || g.dtype() != dt) continue;
      xs.push_back(g.raw_data());
      ns.push_back(g.numel());
    }
  };
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    std::vector<void*> xs;
    std::vector<int64_t> ns;
    gpu_lists(dt, xs, ns);
    if (xs.empty()) continue;
    double s = 0;
    cuda::sum_squares(dt, static_cast<int>(xs.size()),
                      const_cast<const void* const*>(xs.data()), ns.data(), &s);
    total += s;
  }
  const double norm = std::sqrt(total);
  if (max_norm > 0 && norm > max_norm) {
    const double s = max_norm / (norm + 1e-6);
    for (const auto& [name, p] : params) {
      Tensor g = p.grad();
      if (!g.defined() || g.device() == Device::cuda) continue;
      dispatch_float(g.dtype(), "clip_grad_norm", [&](auto zero) {
        using T = decltype(zero);
        T* gp = g.data<T>();
        parallel_for(g.numel(), 1 << 15, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) gp[i] = static_cast<T>(gp[i] * s);
        });
      });
    }
    for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
      std::vector<void*> xs;
      std::vector<int64_t> ns;
      gpu_lists(dt, xs, ns);
      if (!xs.empty()) cuda::scale_tensors(dt, static_cast<int>(xs.size()), xs.data(), ns.data(), s);
    }
  }
  return norm;
}

}  // namespace lory
