// gradcheck: analytic gradients by one backward pass, numeric ones by central differences.
#include "core/gradcheck.h"

#include <cmath>
#include <cstdio>

#include "core/autograd.h"
#include "core/random.h"

namespace lory {

std::string GradcheckResult::report() const {
  std::string s = "input  elements  max_abs_err  max_rel_err  worst(analytic vs numeric)  result\n";
  char line[256];
  for (const auto& r : inputs) {
    std::snprintf(line, sizeof line, "%5d  %8lld  %11.3e  %11.3e  %12.6g vs %-12.6g  %s\n",
                  r.index, static_cast<long long>(r.checked), r.max_abs_err, r.max_rel_err,
                  r.analytic, r.numeric, r.ok ? "pass" : "FAIL");
    s += line;
  }
  return s;
}

GradcheckResult gradcheck(const TensorFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opt) {
  LORY_CHECK(opt.eps > 0 && std::isfinite(opt.eps), "gradcheck: eps is ", opt.eps,
             "; expected a finite step > 0");
  LORY_CHECK(opt.atol >= 0 && opt.rtol >= 0, "gradcheck: atol ", opt.atol, ", rtol ", opt.rtol,
             "; expected tolerances >= 0");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    LORY_CHECK(x.dtype() == DType::f64 && x.device() == Device::cpu, "gradcheck: input ", i,
               " is ", x.str(), "; expected f64 on the CPU (finite differences need float64)");
    LORY_CHECK(x.is_leaf(), "gradcheck: input ", i, " is not a leaf tensor");
  }

  // Analytic: one backward pass of <r, y>.
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) x.impl_ptr()->grad.reset();
  Tensor y = fn(inputs);
  LORY_CHECK(y.dtype() == DType::f64, "gradcheck: the function returned ", y.str(),
             "; expected an f64 tensor");
  Generator gen(opt.seed);
  Tensor r = Tensor::randn(y.shape(), gen, 1.0, DType::f64);
  const double* rp = r.data<double>();
  if (y.requires_grad()) y.backward(r);

  auto project = [&](const Tensor& out) {  // <r, out>, summed in a fixed order
    const double* p = out.data<double>();
    double s = 0;
    for (int64_t k = 0; k < out.numel(); ++k) s += rp[k] * p[k];
    return s;
  };

  GradcheckResult result;
  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    GradcheckInputResult res;
    res.index = static_cast<int>(i);
    Tensor g = x.grad();
    double* xp = x.data<double>();
    for (int64_t k = 0; k < x.numel(); ++k) {
      double saved = xp[k];
      xp[k] = saved + opt.eps;
      double plus = project(fn(inputs));
      xp[k] = saved - opt.eps;
      double minus = project(fn(inputs));
      xp[k] = saved;
      double numeric = (plus - minus) / (2 * opt.eps);
      double analytic = g.defined() ? g.data<double>()[k] : 0.0;
      double abs_err = std::fabs(analytic - numeric);
      double rel_err = abs_err / std::max(std::fabs(numeric), 1e-12);
      bool ok = abs_err <= opt.atol + opt.rtol * std::fabs(numeric);
      if (abs_err > res.max_abs_err || res.worst < 0) {
        res.max_abs_err = abs_err;
        res.worst = k;
        res.analytic = analytic;
        res.numeric = numeric;
      }
      if (std::fabs(numeric) > opt.atol) res.max_rel_err = std::max(res.max_rel_err, rel_err);
      res.ok = res.ok && ok;
      ++res.checked;
    }
    result.ok = result.ok && res.ok;
    result.inputs.push_back(res);
  }
  return result;
}

}  // namespace lory
