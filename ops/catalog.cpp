// The op catalog's cases: small, awkward shapes (odd sizes, size-1 dims) that exercise every path.
#include "ops/catalog.h"

#include "ops/ops.h"

namespace lory::ops {
namespace {

Tensor rand_param(Generator& g, const Shape& s, DType dt, double std = 1.0) {
  return Tensor::randn(s, g, std, dt).set_requires_grad();
}
Tensor positive(Generator& g, const Shape& s, DType dt) {
  return Tensor::uniform(s, g, 0.5, 2.0, dt).set_requires_grad();
}
Tensor ids(Generator& g, const Shape& s, int64_t bound) {
  std::vector<int32_t> v(s.numel());
  for (auto& x : v) x = static_cast<int32_t>(g.below(bound));
  return Tensor::from_vector(v, s);
}

using In = const std::vector<Tensor>&;

std::vector<OpCase> build() {
  std::vector<OpCase> c;
  auto unary = [&](const std::string& name, Tensor (*op)(const Tensor&), bool needs_positive) {
    c.push_back({name, "(3, 7)",
                 [needs_positive](Generator& g, DType dt) {
                   return std::vector<Tensor>{needs_positive ? positive(g, {3, 7}, dt)
                                                             : rand_param(g, {3, 7}, dt)};
                 },
                 [op](In x) { return op(x[0]); }});
  };
  unary("neg", neg, false);
  unary("exp", exp, false);
  unary("log", log, true);
  unary("sqrt", sqrt, true);
  unary("square", square, false);
  unary("silu", silu, false);
  unary("gelu", gelu, false);
  unary("softmax", softmax, false);
  unary("log_softmax", log_softmax, false);
  auto binary = [&](const std::string& name, Tensor (*op)(const Tensor&, const Tensor&)) {
    c.push_back({name, "(2, 3, 5) with (3, 5)",
                 [name](Generator& g, DType dt) {
                   return std::vector<Tensor>{rand_param(g, {2, 3, 5}, dt),
                                              name == "div" ? positive(g, {3, 5}, dt)
                                                            : rand_param(g, {3, 5}, dt)};
                 },
                 [op](In x) { return op(x[0], x[1]); }});
  };
  binary("add", add);
  binary("sub", sub);
  binary("mul", mul);
  binary("div", div);
  c.push_back({"scale", "(4, 3)", [](Generator& g, DType dt) { return std::vector<Tensor>{rand_param(g, {4, 3}, dt)}; },
               [](In x) { return scale(x[0], -1.5); }});
  c.push_back({"sum", "(3, 4, 5) over dim 1", [](Generator& g, DType dt) { return std::vector<Tensor>{rand_param(g, {3, 4, 5}, dt)}; },
               [](In x) { return sum(x[0], 1); }});
  c.push_back({"mean", "(3, 4, 5) all", [](Generator& g, DType dt) { return std::vector<Tensor>{rand_param(g, {3, 4, 5}, dt)}; },
               [](In x) { return mean(x[0]); }});
  c.push_back({"swiglu", "(2, 5, 7) x2", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {2, 5, 7}, dt), rand_param(g, {2, 5, 7}, dt)}; },
               [](In x) { return swiglu(x[0], x[1]); }});
  for (int flags = 0; flags < 4; ++flags) {
    const bool ta = flags & 1, tb = flags & 2;
    c.push_back({std::string("matmul") + (ta ? ".trans_a" : "") + (tb ? ".trans_b" : ""), "(7, 5)·(5, 3)",
                 [ta, tb](Generator& g, DType dt) {
                   return std::vector<Tensor>{rand_param(g, ta ? Shape{5, 7} : Shape{7, 5}, dt),
                                              rand_param(g, tb ? Shape{3, 5} : Shape{5, 3}, dt)};
                 },
                 [ta, tb](In x) { return matmul(x[0], x[1], ta, tb); }});
  }
  c.push_back({"matmul.batched", "(2, 3, 4, 5)·(2, 3, 5, 6)", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {2, 3, 4, 5}, dt), rand_param(g, {2, 3, 5, 6}, dt)}; },
               [](In x) { return matmul(x[0], x[1]); }});
  c.push_back({"linear", "(2, 3, 5)·(5, 4)", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {2, 3, 5}, dt), rand_param(g, {5, 4}, dt)}; },
               [](In x) { return linear(x[0], x[1]); }});
  c.push_back({"permute", "(2, 3, 4, 5) -> (0, 2, 1, 3)", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {2, 3, 4, 5}, dt)}; },
               [](In x) { return permute(x[0], {0, 2, 1, 3}); }});
  c.push_back({"narrow", "(3, 7, 2) dim 1 [2, 6)", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {3, 7, 2}, dt)}; },
               [](In x) { return narrow(x[0], 1, 2, 4); }});
  c.push_back({"concat", "(2, 3) + (2, 5) dim 1", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {2, 3}, dt), rand_param(g, {2, 5}, dt)}; },
               [](In x) { return concat({x[0], x[1]}, 1); }});
  c.push_back({"embedding", "ids (2, 6) into (9, 5)", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{ids(g, {2, 6}, 9), rand_param(g, {9, 5}, dt)}; },
               [](In x) { return embedding(x[0], x[1]); }});
  c.push_back({"rmsnorm", "(2, 3, 7), (7)", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {2, 3, 7}, dt), rand_param(g, {7}, dt)}; },
               [](In x) { return rmsnorm(x[0], x[1]); }});
  c.push_back({"cross_entropy", "(6, 11), targets (6)", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {6, 11}, dt), ids(g, {6}, 11)}; },
               [](In x) { return cross_entropy(x[0], x[1]); }});
  c.push_back({"rope", "(2, 3, 5, 6) from position 4", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {2, 3, 5, 6}, dt)}; },
               [](In x) { return rope(x[0], 4); }});
  c.push_back({"causal_attention", "q (2, 2, 5, 4), k, v (2, 2, 7, 4)", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {2, 2, 5, 4}, dt), rand_param(g, {2, 2, 7, 4}, dt),
                                            rand_param(g, {2, 2, 7, 4}, dt)}; },
               [](In x) { return causal_attention(x[0], x[1], x[2]); }});
  c.push_back({"segment_mean", "(2, 10, 3), T = 4", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {2, 10, 3}, dt)}; },
               [](In x) { return segment_mean(x[0], 4); }});
  c.push_back({"lory_ffn", "x (2, 7, 3), route (2, 3, 3), experts 3 x (3, 5), T = 3", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {2, 7, 3}, dt), positive(g, {2, 3, 3}, dt),
                                            rand_param(g, {3, 3, 5}, dt), rand_param(g, {3, 3, 5}, dt),
                                            rand_param(g, {3, 5, 3}, dt)}; },
               [](In x) { return lory_ffn(x[0], x[1], x[2], x[3], x[4], 3); }});
  c.push_back({"index_select_rows", "(6, 4) rows [5, 0, 5, 2]", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {6, 4}, dt), Tensor::from_vector<int32_t>({5, 0, 5, 2}, {4})}; },
               [](In x) { return index_select_rows(x[0], x[1]); }});
  c.push_back({"scale_rows", "(5, 3), (5)", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {5, 3}, dt), rand_param(g, {5}, dt)}; },
               [](In x) { return scale_rows(x[0], x[1]); }});
  // f32 -> f64 -> f32 (exact both ways) around a scale; for f64 inputs the casts are identities
  // (a float64 gradcheck through an f32 rounding would measure the rounding, not the gradient).
  c.push_back({"cast", "(3, 7) f32 -> f64 -> f32", [](Generator& g, DType dt) {
                 return std::vector<Tensor>{rand_param(g, {3, 7}, dt)}; },
               [](In x) { return cast(scale(cast(x[0], DType::f64), 2.0), x[0].dtype()); }});
  return c;
}

}  // namespace

const std::vector<OpCase>& op_catalog() {
  static const std::vector<OpCase> cases = build();
  return cases;
}

}  // namespace lory::ops
