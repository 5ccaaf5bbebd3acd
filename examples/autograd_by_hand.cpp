// Autograd by hand (the micrograd moment): two ops written from scratch with lory::record,
// one backward pass, and the gradients it finds set beside ones derived on paper and ones
// measured by central differences.
//
// An op is three things: compute the output, save what the derivative needs, and hand
// lory::record a closure that turns the output's gradient into one gradient per input. record
// attaches that closure to the output as a node on the tape; backward() visits the nodes from
// the output back to the leaves and adds up what reaches each leaf.
//
//   build/example_autograd_by_hand
#include <cmath>
#include <cstdio>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "ops/ops.h"

using namespace lory;

// z = a * b, element by element (same shapes, f64).
// dz_i/da_i = b_i and dz_i/db_i = a_i, so  da = dz * b  and  db = dz * a.
Tensor mul(const Tensor& a, const Tensor& b) {
  check_same_shape(a, b, "mul", "a", "b");
  Tensor z = Tensor::empty(a.shape(), DType::f64);
  const double *pa = a.data<double>(), *pb = b.data<double>();
  double* pz = z.data<double>();
  for (int64_t i = 0; i < z.numel(); ++i) pz[i] = pa[i] * pb[i];
  // Save the inputs' values, not the inputs: backward needs numbers, not their history.
  Tensor a_val = a.detach(), b_val = b.detach();
  return record("mul", z, {a, b}, [a_val, b_val](const Tensor& dz, const std::vector<bool>& needs) {
    std::vector<Tensor> grads(2);  // grad mode is off in here: mul records nothing
    if (needs[0]) grads[0] = mul(dz, b_val);
    if (needs[1]) grads[1] = mul(dz, a_val);
    return grads;
  });
}

// y = tanh(x).  dy/dx = 1 - tanh(x)^2 = 1 - y^2, so the output is all backward needs:
// dx = dy * (1 - y^2).
Tensor tanh_op(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), DType::f64);
  const double* px = x.data<double>();
  double* py = y.data<double>();
  for (int64_t i = 0; i < y.numel(); ++i) py[i] = std::tanh(px[i]);
  Tensor y_val = y.detach();  // never capture y itself: y owns this closure (a cycle)
  return record("tanh", y, {x}, [y_val](const Tensor& dy, const std::vector<bool>&) {
    Tensor dx = Tensor::empty(dy.shape(), DType::f64);
    const double *pdy = dy.data<double>(), *py = y_val.data<double>();
    double* pdx = dx.data<double>();
    for (int64_t i = 0; i < dx.numel(); ++i) pdx[i] = pdy[i] * (1 - py[i] * py[i]);
    return std::vector<Tensor>{dx};
  });
}

// The expression: y = 0.5 * tanh(w * x) * x, and L = sum_i y_i. x is used twice, so its
// gradient is the sum of what flows back along both paths.
Tensor expression(const Tensor& w, const Tensor& x) {
  Tensor h = tanh_op(mul(w, x));
  return ops::scale(mul(h, x), 0.5);
}

double sum_of(const Tensor& t) {
  double s = 0;
  for (double v : t.to_vector<double>()) s += v;
  return s;
}

int main() {
  Tensor w = Tensor::from_vector<double>({-3.0, 0.8, 1.5}, {3}).set_requires_grad();
  Tensor x = Tensor::from_vector<double>({2.0, -1.0, 0.5}, {3}).set_requires_grad();

  // Forward records the tape; backward from the vector y seeded with ones is the gradient of
  // L = sum(y) (the seed is dL/dy).
  Tensor y = expression(w, x);
  y.backward(Tensor::ones(y.shape(), DType::f64));
  std::printf("L = sum(0.5 * tanh(w * x) * x) = %.10f\n\n", sum_of(y));

  // On paper, with h = tanh(w x):
  //   dL/dw_i = 0.5 x_i (1 - h_i^2) x_i
  //   dL/dx_i = 0.5 (h_i + x_i (1 - h_i^2) w_i)     (the second path: x as tanh's argument)
  auto by_hand = [&](bool wrt_w, int64_t i) {
    double wi = w.at(i), xi = x.at(i), h = std::tanh(wi * xi), dh = 1 - h * h;
    return wrt_w ? 0.5 * xi * dh * xi : 0.5 * (h + xi * dh * wi);
  };

  // Central differences: dL/dv ~ (L(v + eps) - L(v - eps)) / (2 eps), error O(eps^2).
  const double eps = 1e-6;
  auto numeric = [&](const Tensor& v, int64_t i) {
    NoGradGuard no_grad;  // plain evaluation: nothing to record
    double* p = v.data<double>();
    double saved = p[i];
    p[i] = saved + eps;
    double plus = sum_of(expression(w, x));
    p[i] = saved - eps;
    double minus = sum_of(expression(w, x));
    p[i] = saved;
    return (plus - minus) / (2 * eps);
  };

  std::printf("%-9s %7s  %15s  %15s  %15s  %9s\n", "gradient", "at", "autograd", "by hand",
              "central diff", "|error|");
  for (const Tensor* v : {&w, &x}) {
    bool is_w = v == &w;
    for (int64_t i = 0; i < v->numel(); ++i) {
      double analytic = v->grad().at(i), numerical = numeric(*v, i);
      std::printf("dL/d%s[%lld] %7.3f  %15.10f  %15.10f  %15.10f  %9.2e\n", is_w ? "w" : "x",
                  static_cast<long long>(i), v->at(i), analytic, by_hand(is_w, i), numerical,
                  std::fabs(analytic - numerical));
    }
  }

  // The same check as a tool: lory::gradcheck projects a non-scalar output on a random
  // direction r and compares d<r, y>/d(input) from one backward pass with central differences,
  // element by element. Every op in lory.cpp is tested this way.
  GradcheckResult check =
      gradcheck([](const std::vector<Tensor>& in) { return expression(in[0], in[1]); }, {w, x});
  std::printf("\nlory::gradcheck (input 0 = w, input 1 = x):\n%s", check.report().c_str());
  std::printf("%s\n", check.ok ? "gradients agree" : "GRADIENTS DISAGREE");
  return check.ok ? 0 : 1;
}
