// causal_attention: explicit masked score matrix as reference (Lq = Lk and KV-cache Lq < Lk,
// several query blocks), causality, gradients, thread invariance, bad inputs.
#include "nn_test_util.h"

using namespace lory;
using namespace lory::testing;

namespace {
// For each (b, h): S = q kᵀ / sqrt(Dh) as a full Lq × Lk matrix, entries with j > i + Lk - Lq
// set to -inf, softmax by rows, then S v.
std::vector<double> naive_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  int64_t BH = q.size(0) * q.size(1), Lq = q.size(2), Lk = k.size(2), Dh = q.size(3);
  std::vector<double> qv = q.to_vector<double>(), kv = k.to_vector<double>(),
                      vv = v.to_vector<double>(), out(qv.size(), 0.0);
  for (int64_t bh = 0; bh < BH; ++bh) {
    std::vector<double> S(static_cast<size_t>(Lq * Lk));
    for (int64_t i = 0; i < Lq; ++i)
      for (int64_t j = 0; j < Lk; ++j) {
        double s = 0;
        for (int64_t c = 0; c < Dh; ++c)
          s += qv[(bh * Lq + i) * Dh + c] * kv[(bh * Lk + j) * Dh + c];
        S[i * Lk + j] = j > i + (Lk - Lq) ? -INFINITY : s / std::sqrt(static_cast<double>(Dh));
      }
    for (int64_t i = 0; i < Lq; ++i) {
      double m = -INFINITY, sum = 0;
      for (int64_t j = 0; j < Lk; ++j) m = std::max(m, S[i * Lk + j]);
      for (int64_t j = 0; j < Lk; ++j) sum += std::exp(S[i * Lk + j] - m);
      for (int64_t j = 0; j < Lk; ++j) {
        double p = std::exp(S[i * Lk + j] - m) / sum;
        for (int64_t c = 0; c < Dh; ++c)
          out[(bh * Lq + i) * Dh + c] += p * vv[(bh * Lk + j) * Dh + c];
      }
    }
  }
  return out;
}

struct Sizes {
  int64_t B, H, Lq, Lk, Dh;
};
}  // namespace

TEST_CASE("causal_attention matches an explicit masked score matrix", "[ops]") {
  Generator gen(1);
  for (const Sizes& s : {Sizes{2, 3, 5, 5, 4}, Sizes{1, 2, 3, 7, 8}, Sizes{1, 1, 1, 6, 3},
                         Sizes{1, 1, 1, 1, 1}, Sizes{1, 2, 70, 70, 5}, Sizes{2, 1, 130, 140, 7}}) {
    INFO("B H Lq Lk Dh = " << s.B << " " << s.H << " " << s.Lq << " " << s.Lk << " " << s.Dh);
    Tensor q = Tensor::randn({s.B, s.H, s.Lq, s.Dh}, gen, 1.0, DType::f64);
    Tensor k = Tensor::randn({s.B, s.H, s.Lk, s.Dh}, gen, 1.0, DType::f64);
    Tensor v = Tensor::randn({s.B, s.H, s.Lk, s.Dh}, gen, 1.0, DType::f64);
    std::vector<double> want = naive_attention(q, k, v);
    Tensor o = ops::causal_attention(q, k, v);
    CHECK(o.shape() == q.shape());
    CHECK(max_abs_diff(o, want) < 1e-12);
    Tensor o32 = ops::causal_attention(q.to(DType::f32), k.to(DType::f32), v.to(DType::f32));
    CHECK(max_abs_diff(o32, want) < 1e-5);
  }
}

TEST_CASE("causal_attention decoding one query equals the last row of the full pass", "[ops]") {
  Generator gen(2);
  int64_t L = 9, Dh = 4;
  Tensor q = Tensor::randn({1, 2, L, Dh}, gen, 1.0, DType::f64);
  Tensor k = Tensor::randn({1, 2, L, Dh}, gen, 1.0, DType::f64);
  Tensor v = Tensor::randn({1, 2, L, Dh}, gen, 1.0, DType::f64);
  std::vector<double> full = ops::causal_attention(q, k, v).to_vector<double>();
  std::vector<double> qv = q.to_vector<double>(), last, want;
  for (int64_t h = 0; h < 2; ++h) {
    last.insert(last.end(), qv.begin() + (h * L + L - 1) * Dh, qv.begin() + (h * L + L) * Dh);
    want.insert(want.end(), full.begin() + (h * L + L - 1) * Dh, full.begin() + (h * L + L) * Dh);
  }
  Tensor step = ops::causal_attention(Tensor::from_vector<double>(last, {1, 2, 1, Dh}), k, v);
  CHECK(max_abs_diff(step, want) < 1e-14);
}

TEST_CASE("causal_attention row i ignores keys and values after its position", "[ops]") {
  Generator gen(3);
  int64_t Lq = 70, Lk = 75, Dh = 8, off = Lk - Lq, i0 = 40;  // i0 in the second query block
  Tensor q = Tensor::randn({1, 2, Lq, Dh}, gen);
  Tensor k = Tensor::randn({1, 2, Lk, Dh}, gen);
  Tensor v = Tensor::randn({1, 2, Lk, Dh}, gen);
  Tensor before = ops::causal_attention(q, k, v);
  Tensor k2 = k.clone(), v2 = v.clone();
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t j = i0 + off + 1; j < Lk; ++j)
      for (int64_t c = 0; c < Dh; ++c) {
        k2.data<float>()[(h * Lk + j) * Dh + c] += 3.0f;
        v2.data<float>()[(h * Lk + j) * Dh + c] -= 5.0f;
      }
  Tensor after = ops::causal_attention(q, k2, v2);
  const float *a = before.data<float>(), *b = after.data<float>();
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t i = 0; i <= i0; ++i)
      for (int64_t c = 0; c < Dh; ++c)
        REQUIRE(a[(h * Lq + i) * Dh + c] == b[(h * Lq + i) * Dh + c]);
    CHECK(a[(h * Lq + i0 + 1) * Dh] != b[(h * Lq + i0 + 1) * Dh]);  // the next row sees them
  }
}

TEST_CASE("causal_attention gradients pass gradcheck", "[ops][grad]") {
  // One thread: attention forks an OpenMP team on every call (see attention.cpp), and finite
  // differences call it ~1,000 times on tiny inputs. Thread invariance is tested below.
  ThreadCountGuard one_thread(1);
  Generator gen(4);
  auto fn = [](const std::vector<Tensor>& in) {
    return ops::causal_attention(in[0], in[1], in[2]);
  };
  // The last case spans two query blocks, with a partial second block.
  for (const Sizes& s : {Sizes{1, 2, 4, 4, 3}, Sizes{2, 1, 3, 5, 2}, Sizes{1, 1, 1, 1, 1},
                         Sizes{1, 1, 1, 4, 3}, Sizes{1, 1, 66, 67, 2}}) {
    INFO("B H Lq Lk Dh = " << s.B << " " << s.H << " " << s.Lq << " " << s.Lk << " " << s.Dh);
    require_gradcheck(fn, {leaf64({s.B, s.H, s.Lq, s.Dh}, gen), leaf64({s.B, s.H, s.Lk, s.Dh}, gen),
                           leaf64({s.B, s.H, s.Lk, s.Dh}, gen)});
  }
}

TEST_CASE("causal_attention is bitwise identical with 1 and 2 threads", "[ops]") {
  Generator gen(5);
  Tensor q = Tensor::randn({2, 3, 130, 16}, gen);
  Tensor k = Tensor::randn({2, 3, 135, 16}, gen);
  Tensor v = Tensor::randn({2, 3, 135, 16}, gen);
  Tensor dout = Tensor::randn({2, 3, 130, 16}, gen);
  require_same_bits_1_vs_2_threads([&] {
    Tensor ql = q.clone().set_requires_grad(), kl = k.clone().set_requires_grad(),
           vl = v.clone().set_requires_grad();
    Tensor o = ops::causal_attention(ql, kl, vl);
    o.backward(dout);
    return std::vector<Tensor>{o, ql.grad(), kl.grad(), vl.grad()};
  });
}

TEST_CASE("causal_attention rejects bad inputs clearly", "[ops]") {
  Tensor q = Tensor::zeros({1, 2, 5, 4});
  CHECK_THROWS_WITH(
      ops::causal_attention(q, Tensor::zeros({1, 2, 3, 4}), Tensor::zeros({1, 2, 3, 4})),
      HasSubstr("Lk = 3") && HasSubstr("Lq = 5"));
  CHECK_THROWS_WITH(
      ops::causal_attention(q, Tensor::zeros({1, 2, 5, 8}), Tensor::zeros({1, 2, 5, 8})),
      HasSubstr("the same B, H and Dh"));
  CHECK_THROWS_WITH(
      ops::causal_attention(q, q, Tensor::zeros({1, 2, 6, 4})),
      HasSubstr("'k' has shape (1, 2, 5, 4) but 'v' has shape (1, 2, 6, 4)"));
  CHECK_THROWS_WITH(
      ops::causal_attention(Tensor::zeros({2, 5, 4}), q, q),
      HasSubstr("argument 'q'") && HasSubstr("expected rank 4"));
  CHECK_THROWS_WITH(ops::causal_attention(q, q.to(DType::f64), q),
                    HasSubstr("expected the same dtype"));
}
