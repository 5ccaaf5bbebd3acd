// reshape, permute/transpose, narrow and concat: forward against naive index arithmetic, float64
// gradients, thread-count independence, bad input.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "catch_compat.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {

Tensor randn(const Shape& s, Generator& gen, DType dt = DType::f64) {
  return Tensor::randn(s, gen, 1.0, dt);
}

std::vector<int64_t> strides(const Shape& s) {
  std::vector<int64_t> st(s.rank());
  for (int d = s.rank() - 1, n = 1; d >= 0; --d) st[d] = n, n *= static_cast<int>(s[d]);
  return st;
}

// out[i_0, ..., i_{r-1}] = x[j] with j_{p[k]} = i_k.
std::vector<double> naive_permute(const Tensor& x, const std::vector<int>& p) {
  std::vector<double> xv = x.to_vector<double>(), out(xv.size());
  int r = x.rank();
  std::vector<int64_t> in_st = strides(x.shape()), size(r);
  for (int k = 0; k < r; ++k) size[k] = x.size(p[k]);
  for (int64_t o = 0; o < static_cast<int64_t>(out.size()); ++o) {
    int64_t rest = o, in = 0;
    for (int k = r - 1; k >= 0; --k) in += rest % size[k] * in_st[p[k]], rest /= size[k];
    out[o] = xv[in];
  }
  return out;
}

bool bitwise_equal(const Tensor& x, const Tensor& y) {
  return x.shape() == y.shape() && std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

bool grad_ok(const TensorFn& fn, const std::vector<Tensor>& in) {
  auto r = gradcheck(fn, in);
  INFO(r.report());
  return r.ok;
}

}  // namespace

TEST_CASE("reshape shares storage, infers -1 and reshapes the gradient back", "[ops][grad]") {
  Generator gen(1);
  Tensor x = randn({2, 3, 7}, gen).set_requires_grad();
  Tensor y = ops::reshape(x, {-1, 7});
  CHECK(y.shape() == Shape{6, 7});
  CHECK(y.raw_data() == x.raw_data());
  CHECK(ops::reshape(x, Shape{42}).to_vector<double>() == x.to_vector<double>());
  CHECK(ops::reshape(x, {7, -1, 1}).shape() == Shape{7, 6, 1});
  CHECK(grad_ok([](const std::vector<Tensor>& in) { return ops::reshape(in[0], {3, 14}); }, {x}));
  CHECK_THROWS_WITH(ops::reshape(x, Shape{5, 8}),
                    HasSubstr("(2, 3, 7) (42 elements)"));
  CHECK_THROWS_WITH(ops::reshape(x, {-1, -1}), HasSubstr("more than one -1"));
  CHECK_THROWS_WITH(ops::reshape(x, {-1, 5}), HasSubstr("cannot be inferred"));
  CHECK_THROWS_WITH(ops::reshape(x, {-2, 21}), HasSubstr("dim 0 = -2"));
}

TEST_CASE("permute matches naive index arithmetic for every permutation", "[ops]") {
  Generator gen(2);
  for (Shape s : {Shape{2, 7, 1, 13}, Shape{3, 5, 4, 2}, Shape{1, 33, 1, 1}}) {
    Tensor x = randn(s, gen);
    std::vector<int> p = {0, 1, 2, 3};
    do {
      INFO("shape " << s.str() << " perm " << p[0] << p[1] << p[2] << p[3]);
      Tensor y = ops::permute(x, p);
      CHECK(y.to_vector<double>() == naive_permute(x, p));
    } while (std::next_permutation(p.begin(), p.end()));
  }
  // (B, L, H, Dh) <-> (B, H, L, Dh); a 2-D transpose with partial tiles; ints; f32.
  Tensor a = randn({2, 33, 3, 8}, gen);
  CHECK(ops::permute(a, {0, 2, 1, 3}).to_vector<double>() == naive_permute(a, {0, 2, 1, 3}));
  Tensor m = randn({70, 33}, gen, DType::f32);
  CHECK(ops::transpose(m, 0, 1).to_vector<double>() == naive_permute(m, {1, 0}));
  Tensor ids = Tensor::arange(6 * 35).view({6, 35});
  CHECK(ops::transpose(ids, -1, -2).to_vector<double>() == naive_permute(ids, {1, 0}));
  CHECK(ops::permute(randn({3, 0, 2}, gen), {2, 0, 1}).shape() == Shape{2, 3, 0});
  Tensor s0 = Tensor::scalar(4.0);
  CHECK(ops::permute(s0, {}).item() == 4.0);
}

TEST_CASE("permute and transpose gradients", "[ops][grad]") {
  Generator gen(3);
  Tensor x = randn({2, 3, 1, 5}, gen).set_requires_grad();
  CHECK(grad_ok(
      [](const std::vector<Tensor>& in) {
        return ops::permute(in[0], {3, 0, 2, 1});
      },
      {x}));
  CHECK(grad_ok(
      [](const std::vector<Tensor>& in) {
        return ops::permute(in[0], {0, 2, 1, 3});
      },
      {x}));
  CHECK(grad_ok([](const std::vector<Tensor>& in) { return ops::transpose(in[0], 1, -1); }, {x}));
}

TEST_CASE("narrow and concat match naive copies", "[ops]") {
  Generator gen(4);
  Tensor x = randn({3, 13, 7}, gen);
  std::vector<double> xv = x.to_vector<double>();
  Tensor y = ops::narrow(x, 1, 4, 5);
  CHECK(y.shape() == Shape{3, 5, 7});
  std::vector<double> ref;
  for (int i = 0; i < 3; ++i)
    for (int j = 4; j < 9; ++j)
      for (int k = 0; k < 7; ++k) ref.push_back(xv[(i * 13 + j) * 7 + k]);
  CHECK(y.to_vector<double>() == ref);
  std::vector<double> last;
  for (int i = 0; i < 3 * 13; ++i) last.push_back(xv[i * 7 + 6]);
  CHECK(ops::narrow(x, -1, 6, 1).to_vector<double>() == last);
  CHECK(ops::narrow(x, 0, 3, 0).shape() == Shape{0, 13, 7});
  // Cutting x into pieces and joining them again gives x back, along every dim.
  for (int d = 0; d < 3; ++d) {
    int64_t n = x.size(d);
    Tensor parts = ops::concat(
        {ops::narrow(x, d, 0, 1), ops::narrow(x, d, 1, n - 3), ops::narrow(x, d, n - 2, 2)}, d);
    CHECK(parts.to_vector<double>() == xv);
  }
  Tensor a = randn({2, 1, 3}, gen), b = randn({2, 4, 3}, gen);
  Tensor c = ops::concat({a, b}, -2);
  CHECK(c.shape() == Shape{2, 5, 3});
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), cref;
  for (int i = 0; i < 2; ++i) {
    cref.insert(cref.end(), av.begin() + i * 3, av.begin() + (i + 1) * 3);
    cref.insert(cref.end(), bv.begin() + i * 12, bv.begin() + (i + 1) * 12);
  }
  CHECK(c.to_vector<double>() == cref);
}

TEST_CASE("narrow and concat gradients", "[ops][grad]") {
  Generator gen(5);
  Tensor x = randn({3, 13, 1}, gen).set_requires_grad();
  CHECK(grad_ok([](const std::vector<Tensor>& in) { return ops::narrow(in[0], 1, 7, 5); }, {x}));
  Tensor a = randn({2, 1, 7}, gen).set_requires_grad();
  Tensor b = randn({2, 3, 7}, gen);  // no grad: its slice of dy is simply not produced
  Tensor c = randn({2, 2, 7}, gen).set_requires_grad();
  CHECK(grad_ok(
      [](const std::vector<Tensor>& in) {
        return ops::concat({in[0], in[1], in[2]}, 1);
      },
      {a, b, c}));
}

TEST_CASE("shape ops are bitwise identical for 1 and 2 threads", "[ops]") {
  Generator gen(6);
  Tensor x = randn({4, 65, 6, 33}, gen, DType::f32).set_requires_grad();
  Tensor m = randn({300, 257}, gen, DType::f32);
  const int saved = num_threads();
  Tensor out[2][5];
  for (int t = 0; t < 2; ++t) {
    set_num_threads(t + 1);
    x.zero_grad();
    out[t][0] = ops::permute(x, {0, 2, 1, 3});
    out[t][1] = ops::transpose(m, 0, 1);
    out[t][2] = ops::narrow(x, 1, 3, 60);
    out[t][3] = ops::concat({x, x}, 2);
    Tensor p = ops::permute(x, {0, 2, 3, 1});  // (4, 6, 33, 65): the innermost dim moves
    ops::concat({ops::narrow(p, 3, 1, 33), ops::narrow(p, 3, 0, 33)}, 1)
        .backward(Tensor::ones({4, 12, 33, 33}));
    out[t][4] = x.grad().clone();
  }
  set_num_threads(saved);
  for (int k = 0; k < 5; ++k) CHECK(bitwise_equal(out[0][k], out[1][k]));
}

TEST_CASE("shape ops reject bad input with clear errors", "[ops]") {
  Tensor x = Tensor::zeros({2, 3, 4});
  CHECK_THROWS_WITH(ops::permute(x, {0, 1}), HasSubstr("expected 3"));
  CHECK_THROWS_WITH(ops::permute(x, {0, 1, 1}), HasSubstr("not a permutation"));
  CHECK_THROWS_WITH(ops::transpose(x, 0, 3), HasSubstr("out of range"));
  CHECK_THROWS_WITH(ops::narrow(x, 1, 2, 2), HasSubstr("start + length <= 3"));
  CHECK_THROWS_WITH(ops::narrow(x, 1, -1, 1), HasSubstr("out of range"));
  CHECK_THROWS_WITH(ops::concat({x, Tensor::zeros({2, 5, 5})}, 1),
                    HasSubstr("xs[1] has shape (2, 5, 5)"));
  CHECK_THROWS_WITH(ops::concat({}, 0), HasSubstr("empty"));
  CHECK_THROWS_AS(ops::concat({x, Tensor::zeros({2, 3, 4}, DType::f64)}, 0), Error);
}
