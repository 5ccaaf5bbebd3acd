// matmul and linear: forward against a naive triple loop, float64 gradients for every transpose
// flag in the 2-D, batched and broadcast-weight cases, thread-count independence, bad input.
#include <cstring>

#include "catch_compat.h"
#include "core/cpu/gemm.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {

Tensor randn(const Shape& s, Generator& gen, DType dt = DType::f64) {
  return Tensor::randn(s, gen, 1.0, dt);
}

// op(A)(M,K)·op(B)(K,N) for `batch` packed GEMMs (b shared when b_batched is false), in double.
std::vector<double> naive(const Tensor& a, const Tensor& b, bool ta, bool tb, int64_t batch,
                          int64_t M, int64_t N, int64_t K, bool b_batched) {
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), c(batch * M * N);
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) {
          double x = av[i * M * K + (ta ? k * M + m : m * K + k)];
          double y = bv[(b_batched ? i * K * N : 0) + (tb ? n * K + k : k * N + n)];
          s += x * y;
        }
        c[(i * M + m) * N + n] = s;
      }
  return c;
}

void check_close(const Tensor& c, const std::vector<double>& ref, double tol) {
  std::vector<double> got = c.to_vector<double>();
  REQUIRE(got.size() == ref.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - ref[i]));
  CHECK(worst <= tol);
}

bool bitwise_equal(const Tensor& x, const Tensor& y) {
  return x.shape() == y.shape() && x.dtype() == y.dtype() &&
         std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

const bool kFlags[2] = {false, true};

}  // namespace

TEST_CASE("matmul forward matches a naive triple loop (2-D, batched, broadcast)", "[ops]") {
  Generator gen(1);
  const int64_t M = 7, K = 13, N = 33;
  for (DType dt : {DType::f64, DType::f32}) {
    double tol = dt == DType::f64 ? 1e-12 : 1e-4;
    for (bool ta : kFlags)
      for (bool tb : kFlags) {
        INFO("dtype " << dtype_name(dt) << " trans_a=" << ta << " trans_b=" << tb);
        Shape sa = ta ? Shape{K, M} : Shape{M, K}, sb = tb ? Shape{N, K} : Shape{K, N};
        Tensor a = randn(sa, gen, dt), b = randn(sb, gen, dt);
        Tensor c = ops::matmul(a, b, ta, tb);
        CHECK(c.shape() == Shape{M, N});
        check_close(c, naive(a, b, ta, tb, 1, M, N, K, true), tol);
        // Batched: (2, 3, ., .) on both sides.
        Shape ba = ta ? Shape{2, 3, K, M} : Shape{2, 3, M, K};
        Shape bb = tb ? Shape{2, 3, N, K} : Shape{2, 3, K, N};
        Tensor a3 = randn(ba, gen, dt), b3 = randn(bb, gen, dt);
        Tensor c3 = ops::matmul(a3, b3, ta, tb);
        CHECK(c3.shape() == Shape{2, 3, M, N});
        check_close(c3, naive(a3, b3, ta, tb, 6, M, N, K, true), tol);
        if (ta) continue;
        // Broadcast weight: (2, 3, M, K)·(K, N) = one GEMM with 6·M rows.
        Tensor cw = ops::matmul(a3, b, false, tb);
        CHECK(cw.shape() == Shape{2, 3, M, N});
        check_close(cw, naive(a3, b, false, tb, 6, M, N, K, false), tol);
      }
  }
}

TEST_CASE("matmul handles size-1 and empty dims", "[ops]") {
  Generator gen(2);
  Tensor a = randn({1, 1}, gen), b = randn({1, 5}, gen);
  check_close(ops::matmul(a, b), naive(a, b, false, false, 1, 1, 5, 1, true), 1e-12);
  Tensor e = ops::matmul(Tensor::ones({3, 0}, DType::f64), Tensor::ones({0, 4}, DType::f64));
  CHECK(e.shape() == Shape{3, 4});
  CHECK(e.to_vector<double>() == std::vector<double>(12, 0.0));
  CHECK(ops::matmul(randn({0, 3}, gen), randn({3, 2}, gen)).shape() == Shape{0, 2});
}

TEST_CASE("matmul gradients, every flag combination (2-D)", "[ops][grad]") {
  Generator gen(3);
  struct Dims {
    int64_t M, K, N;
  };
  for (Dims d : {Dims{7, 13, 5}, Dims{1, 3, 1}, Dims{4, 1, 9}})
    for (bool ta : kFlags)
      for (bool tb : kFlags) {
        INFO("M=" << d.M << " K=" << d.K << " N=" << d.N << " trans_a=" << ta << " trans_b=" << tb);
        Tensor a = randn(ta ? Shape{d.K, d.M} : Shape{d.M, d.K}, gen).set_requires_grad();
        Tensor b = randn(tb ? Shape{d.N, d.K} : Shape{d.K, d.N}, gen).set_requires_grad();
        auto r = gradcheck(
            [&](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1], ta, tb); },
            {a, b});
        INFO(r.report());
        CHECK(r.ok);
      }
}

TEST_CASE("matmul gradients, batched and broadcast weight", "[ops][grad]") {
  Generator gen(4);
  const int64_t M = 3, K = 7, N = 2;
  for (bool ta : kFlags)
    for (bool tb : kFlags) {
      INFO("batched trans_a=" << ta << " trans_b=" << tb);
      Tensor a = randn(ta ? Shape{2, 1, K, M} : Shape{2, 1, M, K}, gen).set_requires_grad();
      Tensor b = randn(tb ? Shape{2, 1, N, K} : Shape{2, 1, K, N}, gen).set_requires_grad();
      auto r = gradcheck(
          [&](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1], ta, tb); }, {a, b});
      INFO(r.report());
      CHECK(r.ok);
    }
  for (bool tb : kFlags) {
    INFO("broadcast weight trans_b=" << tb);
    Tensor a = randn({2, 3, M, K}, gen).set_requires_grad();
    Tensor w = randn(tb ? Shape{N, K} : Shape{K, N}, gen).set_requires_grad();
    auto r = gradcheck(
        [&](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1], false, tb); },
        {a, w});
    INFO(r.report());
    CHECK(r.ok);
  }
  // Only one side requiring grad: the other gradient is not computed, the first still right.
  Tensor a = randn({5, 4}, gen).set_requires_grad();
  Tensor b = randn({4, 3}, gen);
  auto r =
      gradcheck([](const std::vector<Tensor>& in) { return ops::matmul(in[0], in[1]); }, {a, b});
  CHECK(r.ok);
}

double dot(const Tensor& x, const Tensor& y) {
  std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < xv.size(); ++i) s += xv[i] * yv[i];
  return s;
}

// Shapes large enough to be cut into several tiles (along rows, or along columns when M is
// small), with every transpose flag on the tiled side.
TEST_CASE("matmul is bitwise identical for 1 and 2 threads, forward and backward", "[ops]") {
  Generator gen(5);
  struct Case {
    Shape a, b;
    bool ta, tb;
    int64_t batch, M, N, K;
    bool b_batched;
  };
  const Case cases[] = {
      {{300, 257}, {257, 129}, false, false, 1, 300, 129, 257, true},    // 2-D, row tiles
      {{257, 300}, {129, 257}, true, true, 1, 300, 129, 257, true},      // both transposed
      {{64, 300}, {1100, 300}, false, true, 1, 64, 1100, 300, true},     // column tiles
      {{300, 64}, {300, 1100}, true, false, 1, 64, 1100, 300, true},     // column tiles
      {{6, 65, 33}, {6, 33, 70}, false, false, 6, 65, 70, 33, true},     // batched
      {{4, 75, 257}, {129, 257}, false, true, 1, 300, 129, 257, false},  // broadcast weight
  };
  const int saved_threads = num_threads();
  for (const Case& cs : cases) {
    INFO("a " << cs.a.str() << " b " << cs.b.str() << " trans " << cs.ta << cs.tb);
    Tensor a = randn(cs.a, gen, DType::f32).set_requires_grad();
    Tensor b = randn(cs.b, gen, DType::f32).set_requires_grad();
    Tensor dc = randn(ops::matmul(a.detach(), b.detach(), cs.ta, cs.tb).shape(), gen, DType::f32);
    Tensor c[2], da[2], db[2];
    for (int t = 0; t < 2; ++t) {
      set_num_threads(t + 1);
      a.zero_grad();
      b.zero_grad();
      c[t] = ops::matmul(a, b, cs.ta, cs.tb);
      c[t].backward(dc);
      da[t] = a.grad().clone();
      db[t] = b.grad().clone();
    }
    CHECK(bitwise_equal(c[0], c[1]));
    CHECK(bitwise_equal(da[0], da[1]));
    CHECK(bitwise_equal(db[0], db[1]));
    check_close(c[0], naive(a, b, cs.ta, cs.tb, cs.batch, cs.M, cs.N, cs.K, cs.b_batched), 1e-3);
    // C is linear in each operand, so <dA, A> = <dB, B> = <dC, C>: this catches a misplaced
    // gradient tile without a second reference implementation.
    double e = dot(dc, c[0]);
    CHECK(dot(da[0], a) == Approx(e).epsilon(1e-4));
    CHECK(dot(db[0], b) == Approx(e).epsilon(1e-4));
  }
  set_num_threads(saved_threads);
}

// ops::matmul cuts a product into tiles, packing op(B) once for all row tiles when it is small
// (or per tile when it is large); either way every value is summed as one whole-problem GEMM sums
// it, so the bits must equal cpu::gemm's.
TEST_CASE("matmul's tiles, with op(B) shared or packed per tile, give the whole GEMM's bits",
          "[ops]") {
  Generator gen(8);
  struct Case {
    int64_t M, N, K;
    bool ta, tb;
  };
  const Case cases[] = {
      {300, 129, 257, false, false},   // op(B) shared by two row tiles
      {600, 1100, 300, true, true},    // shared, both operands transposed
      {256, 1000, 1100, false, true},  // op(B) over 2^20 values: packed per tile
      {64, 1100, 300, true, false},    // column tiles only
  };
  const int saved_threads = num_threads();
  set_num_threads(2);
  for (const Case& cs : cases) {
    INFO("M " << cs.M << " N " << cs.N << " K " << cs.K << " trans " << cs.ta << cs.tb);
    Tensor a = randn(cs.ta ? Shape{cs.K, cs.M} : Shape{cs.M, cs.K}, gen, DType::f32);
    Tensor b = randn(cs.tb ? Shape{cs.N, cs.K} : Shape{cs.K, cs.N}, gen, DType::f32);
    Tensor c = ops::matmul(a, b, cs.ta, cs.tb);
    std::vector<float> ref(static_cast<size_t>(cs.M * cs.N));
    cpu::gemm<float>(cs.ta, cs.tb, cs.M, cs.N, cs.K, a.data<float>(), cs.ta ? cs.M : cs.K,
                     b.data<float>(), cs.tb ? cs.K : cs.N, ref.data(), cs.N, false);
    CHECK(c.to_vector<float>() == ref);
  }
  set_num_threads(saved_threads);
}

TEST_CASE("matmul rejects bad input with clear errors", "[ops]") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
  CHECK_THROWS_WITH(ops::matmul(a, b),
                    HasSubstr("(2, 3) with trans_a=false has K=3") &&
                        HasSubstr("(4, 5) with trans_b=false has K=4"));
  CHECK_THROWS_WITH(ops::matmul(a, b, true, true),
                    HasSubstr("trans_a=true has K=2") &&
                        HasSubstr("trans_b=true has K=5"));
  CHECK_THROWS_WITH(ops::matmul(Tensor::zeros({3}), b), HasSubstr("rank >= 2"));
  CHECK_THROWS_WITH(ops::matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 4})),
                    HasSubstr("identical leading (batch) dims"));
  CHECK_THROWS_WITH(ops::matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 5}), true),
                    HasSubstr("broadcast weight needs trans_a=false"));
  CHECK_THROWS_AS(ops::matmul(Tensor::zeros({2, 3}), Tensor::zeros({3, 2}, DType::f64)), Error);
  CHECK_THROWS_AS(ops::matmul(Tensor::zeros({2, 3}, DType::i32), Tensor::zeros({3, 2}, DType::i32)),
                  Error);
}

TEST_CASE("linear is x·W over all leading dims, with gradients", "[ops][grad]") {
  Generator gen(6);
  Tensor x = randn({2, 3, 5}, gen).set_requires_grad();
  Tensor w = randn({5, 4}, gen).set_requires_grad();
  Tensor y = ops::linear(x, w);
  CHECK(y.shape() == Shape{2, 3, 4});
  check_close(y, naive(x, w, false, false, 6, 1, 4, 5, false), 1e-12);
  auto r =
      gradcheck([](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1]); }, {x, w});
  INFO(r.report());
  CHECK(r.ok);
  Tensor v = randn({5}, gen).set_requires_grad();
  CHECK(ops::linear(v, w).shape() == Shape{4});
  auto r1 =
      gradcheck([](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1]); }, {v, w});
  CHECK(r1.ok);
  CHECK_THROWS_WITH(ops::linear(randn({2, 6}, gen), w),
                    HasSubstr("expected x (..., In) with In = 5"));
  CHECK_THROWS_WITH(ops::linear(x, randn({5}, gen)), HasSubstr("(In, Out)"));
}
