// embedding: row lookup against a naive loop, float64 gradient of the table (repeated ids),
// a deterministic scatter-add for any thread count, out-of-range ids.
#include <cstring>

#include "catch_compat.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

namespace {

Tensor ids_of(const std::vector<int32_t>& v, const Shape& s) {
  return Tensor::from_vector<int32_t>(v, s);
}

}  // namespace

TEST_CASE("embedding looks up table rows", "[ops]") {
  Generator gen(1);
  const int64_t V = 13, D = 7;
  Tensor table = Tensor::randn({V, D}, gen, 1.0, DType::f64);
  Tensor ids = ids_of({3, 0, 12, 3, 5, 1}, {2, 3});
  Tensor y = ops::embedding(ids, table);
  CHECK(y.shape() == Shape{2, 3, D});
  std::vector<double> tv = table.to_vector<double>(), ref;
  for (int32_t id : ids.to_vector<int32_t>())
    ref.insert(ref.end(), tv.begin() + id * D, tv.begin() + (id + 1) * D);
  CHECK(y.to_vector<double>() == ref);
  Tensor one = ops::embedding(ids_of({4}, {1}), Tensor::randn({V, 1}, gen, 1.0, DType::f32));
  CHECK(one.shape() == Shape{1, 1});
  CHECK(ops::embedding(ids_of({}, {0, 4}), table).shape() == Shape{0, 4, D});
}

TEST_CASE("embedding gradient sums rows of repeated ids", "[ops][grad]") {
  Generator gen(2);
  Tensor table = Tensor::randn({5, 3}, gen, 1.0, DType::f64).set_requires_grad();
  Tensor ids = ids_of({1, 4, 1, 1, 0, 4, 2}, {7});  // row 3 is never used: its gradient is 0
  auto r =
      gradcheck([&](const std::vector<Tensor>& in) { return ops::embedding(ids, in[0]); }, {table});
  INFO(r.report());
  CHECK(r.ok);
  table.zero_grad();
  ops::embedding(ids, table).backward(Tensor::ones({7, 3}, DType::f64));
  CHECK(table.grad().to_vector<double>() ==
        std::vector<double>{1, 1, 1, 3, 3, 3, 1, 1, 1, 0, 0, 0, 2, 2, 2});
}

TEST_CASE("embedding backward is bitwise identical for 1 and 2 threads", "[ops]") {
  Generator gen(3);
  const int64_t V = 257, D = 33, count = 4 * 1000;
  Tensor table = Tensor::randn({V, D}, gen, 1.0, DType::f32).set_requires_grad();
  // Heavily repeated ids (a few hot rows), so the order of the sums matters.
  std::vector<int32_t> v(count);
  for (int64_t n = 0; n < count; ++n) v[n] = static_cast<int32_t>((n * n + 7 * n) % 17 * (n % 15));
  Tensor ids = ids_of(v, {4, 1000});
  Tensor dy = Tensor::randn({4, 1000, D}, gen, 1.0, DType::f32);
  const int saved = num_threads();
  Tensor grads[2];
  for (int t = 0; t < 2; ++t) {
    set_num_threads(t + 1);
    table.zero_grad();
    ops::embedding(ids, table).backward(dy);
    grads[t] = table.grad().clone();
  }
  set_num_threads(saved);
  CHECK(std::memcmp(grads[0].raw_data(), grads[1].raw_data(), grads[0].nbytes()) == 0);
  // And it is the plain sum in position order.
  std::vector<float> dv = dy.to_vector<float>(), ref(V * D, 0.0f);
  for (int64_t n = 0; n < count; ++n)
    for (int64_t j = 0; j < D; ++j) ref[v[n] * D + j] += dv[n * D + j];
  CHECK(grads[0].to_vector<float>() == ref);
}

TEST_CASE("embedding rejects bad input with clear errors", "[ops]") {
  Tensor table = Tensor::zeros({10, 4});
  CHECK_THROWS_WITH(
      ops::embedding(ids_of({1, 2, 3, 10}, {2, 2}), table),
      HasSubstr("id 10 at position (1, 1)") && HasSubstr("V = 10"));
  CHECK_THROWS_WITH(ops::embedding(ids_of({-1}, {1}), table), HasSubstr("id -1"));
  CHECK_THROWS_WITH(ops::embedding(Tensor::zeros({3}), table), HasSubstr("ids"));
  CHECK_THROWS_WITH(ops::embedding(ids_of({0}, {1}), Tensor::zeros({10})),
                    HasSubstr("expected (V, D)"));
  CHECK_THROWS_AS(ops::embedding(ids_of({0}, {1}), Tensor::zeros({10, 4}, DType::i32)), Error);
}
