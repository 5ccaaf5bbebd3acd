// Document orders: the ICP greedy path on a hand-made graph, permutations, the similarity order
// beating a random one on a synthetic multi-domain corpus, order files and the pipeline.
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "catch_compat.h"
#include "core/error.h"
#include "data/ordering.h"
#include "data/shards.h"
#include "data/synthetic.h"

using namespace lory;

namespace {

std::string temp_path(const std::string& name) {
  return "/tmp/lory_test_ordering_" + std::to_string(getpid()) + "_" + name;
}

bool is_permutation_of(std::vector<int64_t> order, int64_t n) {
  std::sort(order.begin(), order.end());
  for (int64_t i = 0; i < n; ++i)
    if (static_cast<int64_t>(order.size()) != n || order[i] != i) return false;
  return true;
}

// A graph given as neighbour lists (most similar first); similarities decrease along a row.
KnnGraph make_graph(const std::vector<std::vector<int32_t>>& rows, int64_t k) {
  KnnGraph g;
  g.k = k;
  g.count.assign(rows.size(), 0);
  g.neighbor.assign(rows.size() * k, -1);
  g.similarity.assign(rows.size() * k, 0.0f);
  for (size_t i = 0; i < rows.size(); ++i) {
    g.count[i] = static_cast<int32_t>(rows[i].size());
    for (size_t r = 0; r < rows[i].size(); ++r) {
      g.neighbor[i * k + r] = rows[i][r];
      g.similarity[i * k + r] = 1.0f - 0.1f * r;
    }
  }
  return g;
}

SyntheticCorpus corpus(int64_t docs) {
  SyntheticOptions o;
  o.num_docs = docs;
  o.num_domains = 5;
  o.words_per_domain = 300;
  o.topics_per_domain = 3;
  o.shared_words = 50;
  o.min_words = 30;
  o.max_words = 90;
  o.seed = 11;
  return synthetic_corpus(o);
}

}  // namespace

TEST_CASE("greedy path follows ICP Algorithm 1 on a hand-made graph", "[data]") {
  // In-degrees: 0:1 (from 1), 1:2 (0, 2), 2:2 (1, 3), 3:0, 4:1 (5), 5:0.
  // Start at the lowest-degree, lowest-index document 3 -> 2 -> 1 -> 0 (1's best, 2, is
  // visited); 0 is stuck (1 visited), jump to 5 (degree 0) -> 4 (its only neighbour).
  KnnGraph g = make_graph({{1}, {2, 0}, {1}, {2}, {}, {4}}, 2);
  CHECK(knn_in_degree(g) == std::vector<int32_t>{1, 2, 2, 0, 1, 0});
  CHECK(similarity_order(g) == std::vector<int64_t>{3, 2, 1, 0, 5, 4});
  // With document 2 removed, degrees are 0:1, 1:1, 3:0, 4:1, 5:0: 3 (stuck) -> 5 -> 4 ->
  // then 0 (degree 1, lowest index) -> 1.
  std::vector<uint8_t> keep{1, 1, 0, 1, 1, 1};
  CHECK(similarity_order(g, &keep) == std::vector<int64_t>{3, 5, 4, 0, 1});
  std::vector<uint8_t> short_keep(2, 1);
  CHECK_THROWS_AS(similarity_order(g, &short_keep), Error);
}

TEST_CASE("orders are permutations; the random order is seeded", "[data]") {
  SyntheticCorpus c = corpus(400);
  Embeddings e = TfidfEmbedder().embed(c.texts);
  KnnGraph g = knn_exact(e, 10);
  CHECK(is_permutation_of(similarity_order(g), 400));
  std::vector<int64_t> r1 = random_order(400, 5), r2 = random_order(400, 5),
                       r3 = random_order(400, 6);
  CHECK(is_permutation_of(r1, 400));
  CHECK(r1 == r2);
  CHECK(r1 != r3);
  CHECK(is_permutation_of(random_order(1, 0), 1));
  CHECK(random_order(0, 0).empty());
  // A graph without edges: every document is its own path, in index order.
  CHECK(similarity_order(make_graph({{}, {}, {}}, 1)) == std::vector<int64_t>{0, 1, 2});
  std::vector<uint8_t> keep(400, 1);
  keep[7] = keep[99] = 0;
  std::vector<int64_t> kept = similarity_order(g, &keep), shuffled = random_order(400, 1, &keep);
  CHECK(kept.size() == 398);
  CHECK(shuffled.size() == 398);
  for (int64_t d : {int64_t{7}, int64_t{99}}) {
    CHECK(std::count(kept.begin(), kept.end(), d) == 0);
    CHECK(std::count(shuffled.begin(), shuffled.end(), d) == 0);
  }
}

TEST_CASE("similarity order beats random on adjacent cosine and same-domain rate", "[data]") {
  SyntheticCorpus c = corpus(1000);
  Embeddings e = TfidfEmbedder().embed(c.texts);
  OrderStats sim = order_stats(similarity_order(knn_exact(e, 50)), e, c.domain);
  OrderStats rnd = order_stats(random_order(1000, 0), e, c.domain);
  INFO("similarity: cos " << sim.mean_adjacent_similarity << " same " << sim.same_domain_fraction
                          << "; random: cos " << rnd.mean_adjacent_similarity << " same "
                          << rnd.same_domain_fraction);
  CHECK(sim.documents == 1000);
  CHECK(sim.mean_adjacent_similarity > 3 * rnd.mean_adjacent_similarity);
  CHECK(sim.same_domain_fraction > 0.8);
  CHECK(rnd.same_domain_fraction < 0.35);  // 1/5 expected for 5 equal domains
  // The statistics themselves, on a hand-checked case.
  Embeddings d = dense_embeddings({1, 0, 1, 0, 0, 1}, 3, 2);
  OrderStats s = order_stats({0, 1, 2}, d, {4, 4, 2});
  CHECK(s.mean_adjacent_similarity == Approx(0.5));
  CHECK(s.same_domain_fraction == Approx(0.5));
  CHECK_THROWS_AS(order_stats({0, 3}, d, {4, 4, 2}), Error);
}

TEST_CASE("order files round-trip and map onto a shard's documents", "[data]") {
  std::string path = temp_path("train.order");
  OrderFile o;
  o.method = "similarity";
  o.seed = 9;
  o.ids = {"c", "a", "b"};
  o.stats = {3, 0.25, 1.0};
  o.random_stats = {3, 0.01, 0.5};
  o.info["k"] = 50;
  write_order_file(path, o);
  CHECK_FALSE(std::ifstream(path + ".tmp").good());
  OrderFile r = read_order_file(path);
  CHECK(r.method == "similarity");
  CHECK(r.seed == 9);
  CHECK(r.ids == o.ids);
  CHECK(r.stats.mean_adjacent_similarity == 0.25);
  CHECK(r.random_stats.same_domain_fraction == 0.5);
  CHECK(r.info["k"] == 50);

  ShardData shard;
  shard.vocab_size = 10;
  shard.domains = {"x"};
  for (const char* id : {"a", "b", "c", "d"}) add_document(shard, {1, 2}, 0, id);
  CHECK(order_indices(r.ids, shard, path) == std::vector<int64_t>{2, 0, 1});
  CHECK_THROWS_WITH(order_indices({"a", "zz"}, shard, path), HasSubstr(path) && HasSubstr("'zz'"));
  CHECK_THROWS_WITH(order_indices({"a", "b", "a"}, shard, path), HasSubstr("appears twice"));

  std::ofstream(path) << "{\"format\": \"lory-order\", \"version\": 1, \"ids\": [1]}";
  CHECK_THROWS_WITH(read_order_file(path), HasSubstr(path) && HasSubstr("malformed"));
  std::ofstream(path) << "[1, 2]";
  CHECK_THROWS_WITH(read_order_file(path), HasSubstr(path));
  std::remove(path.c_str());
  CHECK_THROWS_WITH(read_order_file(path), HasSubstr("cannot open"));
}

TEST_CASE("build_order runs the pipeline and removes near-duplicates", "[data]") {
  SyntheticCorpus c = corpus(300);
  std::vector<std::string> texts = c.texts, ids;
  std::vector<int32_t> domain = c.domain;
  // Documents 300..309 repeat documents 0..9 word for word.
  for (int i = 0; i < 10; ++i) texts.push_back(texts[i]), domain.push_back(domain[i]);
  for (size_t i = 0; i < texts.size(); ++i) ids.push_back("doc" + std::to_string(i));
  OrderOptions opt;
  opt.knn.k = 20;
  opt.dedup_threshold = 0.99f;
  OrderFile o = build_order(texts, ids, domain, TfidfEmbedder(), opt);
  CHECK(o.ids.size() == 300);
  CHECK(o.info["duplicates_removed"] == 10);
  CHECK(o.info["knn"] == "exact");
  for (int i = 300; i < 310; ++i)
    CHECK(std::count(o.ids.begin(), o.ids.end(), "doc" + std::to_string(i)) == 0);
  CHECK(o.stats.same_domain_fraction > o.random_stats.same_domain_fraction);
  opt.method = "random";
  opt.dedup_threshold = 0;
  OrderFile r = build_order(texts, ids, domain, TfidfEmbedder(), opt);
  CHECK(r.ids.size() == 310);
  CHECK(r.stats.mean_adjacent_similarity == r.random_stats.mean_adjacent_similarity);
  opt.method = "alphabetical";
  CHECK_THROWS_WITH(build_order(texts, ids, domain, TfidfEmbedder(), opt),
                    HasSubstr("'alphabetical'"));
}
