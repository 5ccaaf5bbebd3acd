// Batch loader: instances match a naive stream, every token is served once per epoch,
// determinism, resume equality, rank partition, and bad input.
#include <algorithm>
#include <memory>
#include <set>

#include "catch_compat.h"
#include "core/error.h"
#include "core/random.h"
#include "data/loader.h"

using namespace lory;

namespace {

constexpr int32_t kEot = 0;

// 40 documents of 0..60 tokens (ids 1..99, so the end-of-text token 0 is distinguishable).
std::shared_ptr<const ShardData> make_shard() {
  auto s = std::make_shared<ShardData>();
  s->vocab_size = 100;
  s->domains = {"a", "b"};
  Generator gen(7);
  for (int d = 0; d < 40; ++d) {
    std::vector<int32_t> tokens(gen.below(61));
    for (int32_t& t : tokens) t = 1 + static_cast<int32_t>(gen.below(99));
    add_document(*s, tokens, d % 2);
  }
  return s;
}

std::vector<int64_t> reversed_order() {
  std::vector<int64_t> order(40);
  for (int i = 0; i < 40; ++i) order[i] = 39 - i;
  return order;
}

// The stream as the loader defines it: documents in order, each followed by end-of-text.
std::vector<int32_t> naive_stream(const ShardData& s, const std::vector<int64_t>& order) {
  std::vector<int32_t> stream;
  for (int64_t d : order) {
    const ShardDoc& doc = s.docs[d];
    stream.insert(stream.end(), s.tokens.begin() + doc.offset,
                  s.tokens.begin() + doc.offset + doc.length);
    stream.push_back(kEot);
  }
  return stream;
}

LoaderOptions options(int64_t batch, int64_t seq_len, uint64_t seed = 1) {
  LoaderOptions o;
  o.batch_size = batch;
  o.seq_len = seq_len;
  o.eot = kEot;
  o.seed = seed;
  return o;
}

std::vector<int32_t> rows_of(const Batch& b) {
  return b.tokens.to_vector<int32_t>();
}

}  // namespace

TEST_CASE("instances are consecutive L+1 slices of the ordered stream", "[data]") {
  auto shard = make_shard();
  std::vector<int32_t> stream = naive_stream(*shard, reversed_order());
  for (int64_t L : {1, 7, 16, 63}) {
    Loader loader(shard, reversed_order(), options(3, L));
    REQUIRE(loader.stream_tokens() == static_cast<int64_t>(stream.size()));
    CHECK(loader.num_instances() == static_cast<int64_t>(stream.size()) / (L + 1));
    CHECK(loader.dropped_tokens() == static_cast<int64_t>(stream.size()) % (L + 1));
    std::vector<int32_t> row(L + 1);
    for (int64_t i = 0; i < loader.num_instances(); ++i) {
      loader.instance_tokens(i, row.data());
      CHECK(std::equal(row.begin(), row.end(), stream.begin() + i * (L + 1)));
    }
  }
}

TEST_CASE("every token is served once per epoch; batches are (B, L+1)", "[data]") {
  auto shard = make_shard();
  std::vector<int32_t> stream = naive_stream(*shard, reversed_order());
  const int64_t L = 9, B = 4;
  Loader loader(shard, reversed_order(), options(B, L));
  const int64_t n = loader.num_instances();
  for (int epoch = 0; epoch < 2; ++epoch) {
    // Rows of epoch `epoch` are rows [epoch*n, (epoch+1)*n) of the served sequence.
    std::vector<int64_t> seen;
    std::multiset<int32_t> served, expected(stream.begin(), stream.begin() + n * (L + 1));
    std::vector<Batch> batches;
    while (static_cast<int64_t>(seen.size()) < (epoch + 1) * n + B) {
      Batch b = loader.next();
      REQUIRE(b.tokens.shape() == Shape{B, L + 1});
      CHECK(b.tokens.dtype() == DType::i32);
      std::vector<int32_t> rows = rows_of(b);
      for (int64_t r = 0; r < B; ++r) {
        seen.push_back(b.instances[r]);
        if (static_cast<int64_t>(seen.size()) > epoch * n &&
            static_cast<int64_t>(seen.size()) <= (epoch + 1) * n)
          served.insert(rows.begin() + r * (L + 1), rows.begin() + (r + 1) * (L + 1));
      }
    }
    std::vector<int64_t> ids(seen.begin() + epoch * n, seen.begin() + (epoch + 1) * n);
    std::sort(ids.begin(), ids.end());
    for (int64_t i = 0; i < n; ++i) CHECK(ids[i] == i);
    CHECK(served == expected);
    loader = Loader(shard, reversed_order(), options(B, L));
  }
  CHECK(loader.steps_per_epoch() == (n + B - 1) / B);
}

TEST_CASE("inputs and targets are the row shifted by one", "[data]") {
  Loader loader(make_shard(), reversed_order(), options(2, 5));
  Batch b = loader.next();
  Tensor x = b.inputs(), y = b.targets();
  CHECK(x.shape() == Shape{2, 5});
  CHECK(y.shape() == Shape{2, 5});
  std::vector<int32_t> t = rows_of(b), xv = x.to_vector<int32_t>(), yv = y.to_vector<int32_t>();
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 5; ++i) {
      CHECK(xv[r * 5 + i] == t[r * 6 + i]);
      CHECK(yv[r * 5 + i] == t[r * 6 + i + 1]);
    }
}

TEST_CASE("same seed, same batches; other seed or epoch, other shuffle", "[data]") {
  auto shard = make_shard();
  Loader a(shard, reversed_order(), options(3, 31, 5)),
      b(shard, reversed_order(), options(3, 31, 5)), c(shard, reversed_order(), options(3, 31, 6));
  std::vector<int64_t> ia, ic;
  for (int s = 0; s < 30; ++s) {
    Batch ba = a.next(), bb = b.next(), bc = c.next();
    CHECK(rows_of(ba) == rows_of(bb));
    CHECK(ba.step == s);
    ia.insert(ia.end(), ba.instances.begin(), ba.instances.end());
    ic.insert(ic.end(), bc.instances.begin(), bc.instances.end());
  }
  CHECK(ia != ic);
  int64_t n = a.num_instances();
  REQUIRE(static_cast<int64_t>(ia.size()) >= 2 * n);
  CHECK(std::vector<int64_t>(ia.begin(), ia.begin() + n) !=
        std::vector<int64_t>(ia.begin() + n, ia.begin() + 2 * n));
  LoaderOptions plain = options(4, 7);
  plain.shuffle = false;
  Batch first = Loader(shard, reversed_order(), plain).next();
  CHECK(first.instances == std::vector<int64_t>{0, 1, 2, 3});
}

TEST_CASE("a restored loader serves exactly the remaining batches", "[data]") {
  auto shard = make_shard();
  for (int64_t stop : {0, 5, 17}) {
    INFO("state saved after " << stop << " batches");
    Loader a(shard, reversed_order(), options(3, 7));
    for (int64_t s = 0; s < stop; ++s) a.next();
    std::string saved = a.state().dump();
    Loader b(shard, reversed_order(), options(3, 7));
    b.next();  // a fresh loader that has moved on: load_state must reset it
    b.load_state(nlohmann::json::parse(saved));
    for (int s = 0; s < 40; ++s) {  // crosses epoch boundaries
      Batch x = a.next(), y = b.next();
      CHECK(rows_of(x) == rows_of(y));
      CHECK(x.instances == y.instances);
      CHECK(x.epoch == y.epoch);
      CHECK(x.step == y.step);
    }
    CHECK(a.state() == b.state());
  }
  Loader a(shard, reversed_order(), options(3, 7));
  nlohmann::json s = a.state();
  Loader other_batch(shard, reversed_order(), options(4, 7));
  CHECK_THROWS_WITH(other_batch.load_state(s), HasSubstr("batch_size is 3"));
  Loader other_seed(shard, reversed_order(), options(3, 7, 2));
  CHECK_THROWS_WITH(other_seed.load_state(s), HasSubstr("seed"));
  s["position"] = 100000;
  CHECK_THROWS_WITH(a.load_state(s), HasSubstr("out of range"));
  CHECK_THROWS_WITH(a.load_state(nlohmann::json::object()), HasSubstr("malformed"));
}

TEST_CASE("ranks get disjoint rows that cover the global batch", "[data]") {
  auto shard = make_shard();
  const int world = 3;
  const int64_t B = 2;
  Loader global(shard, reversed_order(), options(B * world, 7));
  std::vector<Loader> ranks;
  for (int r = 0; r < world; ++r) {
    LoaderOptions o = options(B, 7);
    o.rank = r;
    o.world = world;
    ranks.emplace_back(shard, reversed_order(), o);
  }
  for (int s = 0; s < 25; ++s) {
    Batch g = global.next();
    std::vector<int32_t> grows = rows_of(g);
    std::vector<int64_t> joined;
    for (int r = 0; r < world; ++r) {
      Batch b = ranks[r].next();
      std::vector<int32_t> rows = rows_of(b);
      CHECK(std::equal(rows.begin(), rows.end(), grows.begin() + r * B * 8));
      joined.insert(joined.end(), b.instances.begin(), b.instances.end());
    }
    CHECK(joined == g.instances);
    std::set<int64_t> distinct(joined.begin(), joined.end());
    CHECK(distinct.size() == joined.size());  // an instance is on one rank only
  }
}

TEST_CASE("bad loader input is refused with a clear message", "[data]") {
  auto shard = make_shard();
  LoaderOptions o = options(2, 7);
  o.eot = 100;
  CHECK_THROWS_WITH(Loader(shard, reversed_order(), o), HasSubstr("end-of-text token 100"));
  CHECK_THROWS_WITH(Loader(shard, {1, 2, 1}, options(2, 3)), HasSubstr("appears twice"));
  CHECK_THROWS_WITH(Loader(shard, {1, 40}, options(2, 3)), HasSubstr("order entry 1"));
  CHECK_THROWS_WITH(Loader(shard, {}, options(2, 3)), HasSubstr("fewer than one instance"));
  o = options(2, 7);
  o.rank = 2;
  o.world = 2;
  CHECK_THROWS_WITH(Loader(shard, reversed_order(), o), HasSubstr("rank 2 of world 2"));
  CHECK_THROWS_AS(Loader(shard, reversed_order(), options(0, 7)), Error);
}
