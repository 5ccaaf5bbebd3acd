// Row gathers/scatters and top-k selection: forward against loops, gradients, determinism.
#include "catch_compat.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "core/threads.h"
#include "ops/ops.h"

using namespace lory;

TEST_CASE("index_select_rows and index_add_rows match loops and are adjoint", "[ops][grad]") {
  Generator gen(5);
  Tensor x = Tensor::randn({5, 3}, gen, 1.0, DType::f64).set_requires_grad();
  Tensor idx = Tensor::from_vector<int32_t>({4, 0, 4, 2, 2, 2, 1}, {7});
  Tensor y = ops::index_select_rows(x, idx);
  for (int64_t k = 0; k < 7; ++k)
    for (int64_t c = 0; c < 3; ++c) CHECK(y.at(k * 3 + c) == x.at(idx.at(k) * 3 + c));
  auto g1 = gradcheck([&](const std::vector<Tensor>& in) { return ops::index_select_rows(in[0], idx); }, {x});
  INFO(g1.report());
  CHECK(g1.ok);

  Tensor src = Tensor::randn({7, 3}, gen, 1.0, DType::f64).set_requires_grad();
  Tensor z = ops::index_add_rows(src, idx, 6);
  CHECK(z.shape() == Shape{6, 3});
  for (int64_t c = 0; c < 3; ++c) {
    CHECK(z.at(2 * 3 + c) == Approx(src.at(3 * 3 + c) + src.at(4 * 3 + c) + src.at(5 * 3 + c)));
    CHECK(z.at(3 * 3 + c) == 0.0);  // no source row
  }
  auto g2 = gradcheck([&](const std::vector<Tensor>& in) { return ops::index_add_rows(in[0], idx, 6); }, {src});
  INFO(g2.report());
  CHECK(g2.ok);
}

TEST_CASE("take_along_last picks entries and scatters their gradient", "[ops][grad]") {
  Generator gen(6);
  Tensor x = Tensor::randn({4, 5}, gen, 1.0, DType::f64).set_requires_grad();
  Tensor idx = Tensor::from_vector<int32_t>({0, 4, 3, 3, 1, 2, 4, 0}, {4, 2});
  Tensor y = ops::take_along_last(x, idx);
  for (int64_t m = 0; m < 4; ++m)
    for (int64_t j = 0; j < 2; ++j) CHECK(y.at(m * 2 + j) == x.at(m * 5 + idx.at(m * 2 + j)));
  auto g = gradcheck([&](const std::vector<Tensor>& in) { return ops::take_along_last(in[0], idx); }, {x});
  INFO(g.report());
  CHECK(g.ok);
}

TEST_CASE("topk_indices orders by value, ties to the lower index", "[ops]") {
  Tensor x = Tensor::from_vector<float>({0.1f, 0.5f, 0.5f, 0.2f, 3, 2, 1, 0}, {2, 4});
  Tensor k = ops::topk_indices(x, 2);
  CHECK(k.to_vector<int32_t>() == std::vector<int32_t>{1, 2, 0, 1});
  CHECK_THROWS_AS(ops::topk_indices(x, 5), Error);
}

TEST_CASE("scatter-add is bitwise identical with 1 and 2 threads", "[ops]") {
  Generator gen(8);
  const int64_t K = 20000, M = 300;
  Tensor src = Tensor::randn({K, 17}, gen);
  std::vector<int32_t> ids(K);
  for (auto& v : ids) v = static_cast<int32_t>(gen.below(M));
  Tensor idx = Tensor::from_vector(ids, {K});
  int saved = num_threads();
  set_num_threads(1);
  auto a = ops::index_add_rows(src, idx, M).to_vector<float>();
  set_num_threads(2);
  auto b = ops::index_add_rows(src, idx, M).to_vector<float>();
  set_num_threads(saved);
  CHECK(a == b);
}

TEST_CASE("index ops reject out-of-range indices naming the position", "[ops]") {
  Tensor x = Tensor::zeros({3, 2});
  Tensor bad = Tensor::from_vector<int32_t>({0, 3}, {2});
  CHECK_THROWS_WITH(ops::index_select_rows(x, bad), HasSubstr("idx[1] is 3"));
  CHECK_THROWS_AS(ops::index_add_rows(x, bad, 3), Error);
}

TEST_CASE("scale_rows scales each row and passes gradcheck", "[ops][grad]") {
  Generator gen(9);
  Tensor x = Tensor::randn({5, 7}, gen, 1.0, DType::f64).set_requires_grad();
  Tensor s = Tensor::randn({5}, gen, 1.0, DType::f64).set_requires_grad();
  Tensor y = ops::scale_rows(x, s);
  for (int64_t m = 0; m < 5; ++m)
    for (int64_t c = 0; c < 7; ++c) CHECK(y.at(m * 7 + c) == x.at(m * 7 + c) * s.at(m));
  auto g = gradcheck([](const std::vector<Tensor>& in) { return ops::scale_rows(in[0], in[1]); }, {x, s});
  INFO(g.report());
  CHECK(g.ok);
  CHECK_THROWS_AS(ops::scale_rows(x, Tensor::zeros({4}, DType::f64)), Error);
}
