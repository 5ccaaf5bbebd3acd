// Shape and index ops on the GPU at realistic sizes: permute / transpose, narrow, concat,
// reshape, the row gathers and scatter-adds, take_along_last, topk_indices, embedding and
// segment_mean agree with the CPU (outputs and gradients), in f32 and bf16. Skipped without a GPU.
#include <cstdio>
#include <string>

#include "core/precision.h"
#include "ops/ops.h"
#include "parity.h"

using namespace lory;

namespace {

using In = const std::vector<Tensor>&;

// f32 copies and ordered sums match the CPU (nearly) exactly; bf16 only to its rounding.
constexpr double kF32 = 1e-7;
constexpr double kBf16 = 1e-4;

Tensor param(Generator& g, const Shape& s) {
  return Tensor::randn(s, g).set_requires_grad();
}

Tensor ids(Generator& g, const Shape& s, int64_t bound) {
  std::vector<int32_t> v(static_cast<size_t>(s.numel()));
  for (auto& x : v) x = static_cast<int32_t>(g.below(static_cast<uint64_t>(bound)));
  return Tensor::from_vector(v, s);
}

// Runs fn in f32 and in bf16 on the GPU against the f32 CPU result.
void check_both(const std::string& what, const TensorFn& fn, const std::vector<Tensor>& inputs) {
  INFO(what);
  test::ParityResult f = test::run_parity(fn, inputs, 7, DType::f32);
  std::printf("%-44s f32 worst %.1e", what.c_str(), f.worst());
  CHECK(f.output <= kF32);
  for (double g : f.gradients) CHECK(g <= kF32);
  for (Tensor t : inputs)  // the CPU run accumulates into the same leaves again
    if (t.requires_grad()) t.zero_grad();
  test::ParityResult b = test::run_parity(fn, inputs, 7, DType::bf16);
  std::printf("  bf16 worst %.1e\n", b.worst());
  CHECK(b.output <= kBf16);
  for (double g : b.gradients) CHECK(g <= kBf16);
}

}  // namespace

TEST_CASE("permute and transpose at (2, 8, 300, 64)", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  Generator gen(1);
  const std::vector<std::vector<int>> perms = {{0, 2, 1, 3}, {0, 1, 3, 2}, {3, 1, 0, 2},
                                               {2, 0, 3, 1}, {0, 1, 2, 3}, {1, 0, 2, 3}};
  for (const auto& p : perms) {
    Tensor x = param(gen, {2, 8, 300, 64});
    std::string name = "permute (" + std::to_string(p[0]) + std::to_string(p[1]) +
                       std::to_string(p[2]) + std::to_string(p[3]) + ")";
    check_both(name, [p](In in) { return ops::permute(in[0], p); }, {x});
  }
  // Size-1 dims and odd sizes around the 32×32 tiles.
  check_both("transpose (5, 1, 33, 70) dims 2, 3",
             [](In in) { return ops::transpose(in[0], 2, 3); }, {param(gen, {5, 1, 33, 70})});
  check_both("transpose (1, 1000, 3) dims 1, 2", [](In in) { return ops::transpose(in[0], 1, 2); },
             {param(gen, {1, 1000, 3})});
  check_both("permute rank 6",
             [](In in) {
               return ops::permute(in[0], {5, 3, 1, 4, 2, 0});
             },
             {param(gen, {2, 3, 4, 5, 6, 7})});
}

TEST_CASE("reshape, narrow and concat along each dim", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  Generator gen(2);
  check_both("reshape (6, 50, 40) -> (300, 40) then narrow",
             [](In in) {
               return ops::narrow(ops::reshape(in[0], {300, 40}), 0, 10, 250);
             },
             {param(gen, {6, 50, 40})});
  for (int d = 0; d < 3; ++d) {
    Shape s{33, 40, 65};
    check_both("narrow (33, 40, 65) dim " + std::to_string(d),
               [d](In in) { return ops::narrow(in[0], d, 3, 17); }, {param(gen, s)});
    Shape a = s, b = s, c = s;
    a[d] = 7;
    b[d] = 1;
    c[d] = 30;
    check_both("concat 3 tensors along dim " + std::to_string(d),
               [d](In in) {
                 return ops::concat({in[0], in[1], in[2]}, d);
               },
               {param(gen, a), param(gen, b), param(gen, c)});
  }
}

TEST_CASE("embedding with repeated ids on V = 5000", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  Generator gen(3);
  // Ids drawn from the first 40 rows collide many times; a second batch spreads over all of V.
  check_both("embedding ids (4, 300) < 40, (5000, 96)",
             [](In in) { return ops::embedding(in[0], in[1]); },
             {ids(gen, {4, 300}, 40), param(gen, {5000, 96})});
  check_both("embedding ids (2, 513) < 5000, (5000, 130)",
             [](In in) { return ops::embedding(in[0], in[1]); },
             {ids(gen, {2, 513}, 5000), param(gen, {5000, 130})});
}

TEST_CASE("index_select_rows, index_add_rows and take_along_last with collisions", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  Generator gen(4);
  check_both("index_select_rows (700, 130) by 2000",
             [](In in) { return ops::index_select_rows(in[0], in[1]); },
             {param(gen, {700, 130}), ids(gen, {2000}, 700)});
  check_both("index_add_rows (2000, 130) into 700",
             [](In in) { return ops::index_add_rows(in[0], in[1], 700); },
             {param(gen, {2000, 130}), ids(gen, {2000}, 700)});
  check_both("index_add_rows (3000, 33) into 5 (heavy collisions)",
             [](In in) { return ops::index_add_rows(in[0], in[1], 5); },
             {param(gen, {3000, 33}), ids(gen, {3000}, 5)});
  check_both("take_along_last (1000, 16) by (1000, 4)",
             [](In in) { return ops::take_along_last(in[0], in[1]); },
             {param(gen, {1000, 16}), ids(gen, {1000, 4}, 16)});
}

TEST_CASE("topk_indices matches the CPU, ties to the lower index", "[cuda]") {
  test::require_gpu();
  Generator gen(5);
  for (int64_t K : {1, 2, 8, 64}) {
    Tensor x = Tensor::randn({1000, 64}, gen);
    test::ParityResult r =
        test::run_parity([K](In in) { return ops::topk_indices(in[0], K); }, {x});
    CHECK(r.output == 0);
  }
  // Many ties: values in {-2, ..., 2}.
  std::vector<float> v(500 * 16);
  for (auto& e : v) e = static_cast<float>(static_cast<int>(gen.below(5)) - 2);
  Tensor t = Tensor::from_vector(v, {500, 16});
  test::ParityResult r = test::run_parity([](In in) { return ops::topk_indices(in[0], 5); }, {t});
  CHECK(r.output == 0);
  // bf16 values are exactly representable here, so the GPU picks the same indices.
  r = test::run_parity([](In in) { return ops::topk_indices(in[0], 5); }, {t}, 7, DType::bf16);
  CHECK(r.output == 0);
}

TEST_CASE("segment_mean at (3, 1000, 96), T = 64", "[cuda]") {
  test::require_gpu();
  Tf32Guard exact(false);
  Generator gen(6);
  check_both("segment_mean (3, 1000, 96) T 64", [](In in) { return ops::segment_mean(in[0], 64); },
             {param(gen, {3, 1000, 96})});
  check_both("segment_mean (2, 7, 5) T 10", [](In in) { return ops::segment_mean(in[0], 10); },
             {param(gen, {2, 7, 5})});
}
