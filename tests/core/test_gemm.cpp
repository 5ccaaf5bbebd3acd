// The packed CPU GEMM (core/cpu/gemm.h), float32 and float64, against a float64 reference: every
// transpose, awkward sizes around the micro-tile and block edges, leading dimensions wider than the
// matrices, accumulation, and pre-packed operands giving gemm's exact bits.
#include <cmath>
#include <vector>

#include "catch_compat.h"
#include "core/cpu/gemm.h"
#include "core/random.h"

using namespace lory;

namespace {

struct Case {
  int64_t M, N, K;
};

template <typename Real>
std::vector<Real> random_vec(int64_t n, uint64_t seed) {
  Generator gen(seed);
  std::vector<Real> v(static_cast<size_t>(n));
  for (Real& x : v) x = static_cast<Real>(gen.normal());
  return v;
}

// Largest |C - reference| relative to the scale of the sum, sqrt(K) · max|a| · max|b| ~ O(sqrt K).
template <typename Real>
double check_case(const Case& c, bool ta, bool tb, bool accumulate, bool packed) {
  const int64_t pad = 3;  // leading dimensions wider than the matrices
  const int64_t lda = (ta ? c.M : c.K) + pad, ldb = (tb ? c.K : c.N) + pad, ldc = c.N + pad;
  const int64_t a_rows = ta ? c.K : c.M, b_rows = tb ? c.N : c.K;
  std::vector<Real> A = random_vec<Real>(a_rows * lda, 1), B = random_vec<Real>(b_rows * ldb, 2);
  std::vector<Real> C = random_vec<Real>(c.M * ldc, 3), C0 = C;
  if (packed) {
    std::vector<Real> ap(static_cast<size_t>(cpu::packed_a_size(c.M, c.K)));
    std::vector<Real> bp(static_cast<size_t>(cpu::packed_b_size(c.K, c.N)));
    cpu::pack_a(ta, c.M, c.K, A.data(), lda, ap.data());
    cpu::pack_b(tb, c.K, c.N, B.data(), ldb, bp.data());
    cpu::gemm_packed(c.M, c.N, c.K, ap.data(), bp.data(), C.data(), ldc, accumulate);
  } else {
    cpu::gemm(ta, tb, c.M, c.N, c.K, A.data(), lda, B.data(), ldb, C.data(), ldc, accumulate);
  }
  double worst = 0;
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) {
      double ref = accumulate ? C0[i * ldc + j] : 0.0;
      for (int64_t k = 0; k < c.K; ++k) {
        double a = ta ? A[k * lda + i] : A[i * lda + k];
        double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        ref += a * b;
      }
      worst = std::max(worst, std::abs(C[i * ldc + j] - ref) / std::sqrt(double(c.K) + 1));
    }
  // The padding columns of C are never written.
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = c.N; j < ldc; ++j) REQUIRE(C[i * ldc + j] == C0[i * ldc + j]);
  return worst;
}

}  // namespace

TEST_CASE("gemm matches a float64 reference for every transpose and awkward sizes", "[core]") {
  // 1 and 7 around the 6 × 16 micro-tile, 300 > one 256-deep block, 150 > one 144-row block,
  // 1030 > one 1024-column block.
  const Case cases[] = {{1, 1, 1},     {6, 16, 8},     {7, 17, 3},   {5, 33, 300},
                        {150, 40, 64}, {13, 1030, 20}, {64, 96, 513}};
  for (const Case& c : cases)
    for (int t = 0; t < 4; ++t)
      for (int acc = 0; acc < 2; ++acc) {
        INFO("M=" << c.M << " N=" << c.N << " K=" << c.K << " ta=" << (t & 1) << " tb=" << (t >> 1)
                  << " accumulate=" << acc);
        CHECK(check_case<float>(c, t & 1, t >> 1, acc, false) < 2e-6);
        CHECK(check_case<float>(c, t & 1, t >> 1, acc, true) < 2e-6);
        CHECK(check_case<double>(c, t & 1, t >> 1, acc, false) < 1e-14);
        CHECK(check_case<double>(c, t & 1, t >> 1, acc, true) < 1e-14);
      }
}

TEST_CASE("gemm with both operands pre-packed gives gemm's exact bits", "[core]") {
  // Two depth blocks and overhanging tiles; three depth blocks and two column blocks of gemm's.
  for (const Case& c : {Case{40, 50, 300}, Case{37, 1100, 530}})
    for (int t = 0; t < 4; ++t) {
      const int64_t M = c.M, N = c.N, K = c.K;
      const bool ta = t & 1, tb = t >> 1;
      std::vector<float> A = random_vec<float>(M * K, 6), B = random_vec<float>(K * N, 7);
      const int64_t lda = ta ? M : K, ldb = tb ? K : N;
      std::vector<float> C1(static_cast<size_t>(M * N)), C2(C1.size());
      cpu::gemm(ta, tb, M, N, K, A.data(), lda, B.data(), ldb, C1.data(), N, false);
      std::vector<float> ap(static_cast<size_t>(cpu::packed_a_size(M, K)));
      std::vector<float> bp(static_cast<size_t>(cpu::packed_b_size(K, N)));
      cpu::pack_a(ta, M, K, A.data(), lda, ap.data());
      cpu::pack_b(tb, K, N, B.data(), ldb, bp.data());
      cpu::gemm_packed(M, N, K, ap.data(), bp.data(), C2.data(), N, false);
      CHECK(C1 == C2);
    }
}

TEST_CASE("gemm with an empty depth writes zeros or keeps C", "[core]") {
  std::vector<float> C(6, 5.0f);
  cpu::gemm<float>(false, false, 2, 3, 0, nullptr, 0, nullptr, 3, C.data(), 3, true);
  CHECK(C == std::vector<float>(6, 5.0f));
  cpu::gemm<float>(false, false, 2, 3, 0, nullptr, 0, nullptr, 3, C.data(), 3, false);
  CHECK(C == std::vector<float>(6, 0.0f));
}
