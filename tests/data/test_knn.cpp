// Embeddings and kNN: hashed terms, TF-IDF weights and normalisation, exact search against a
// brute-force loop, approximate recall, thread-count invariance, near-duplicates.
#include <algorithm>
#include <cmath>

#include "catch_compat.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/embedding.h"
#include "data/knn.h"
#include "data/synthetic.h"

using namespace lory;

namespace {

SyntheticCorpus small_corpus(int64_t docs, uint64_t seed = 3) {
  SyntheticOptions o;
  o.num_docs = docs;
  o.num_domains = 4;
  o.words_per_domain = 400;
  o.topics_per_domain = 3;
  o.shared_words = 60;
  o.min_words = 20;
  o.max_words = 80;
  o.seed = seed;
  return synthetic_corpus(o);
}

// Top-k by a plain loop over all pairs with the documented order: similarity > 0, higher
// first, ties by lower index.
KnnGraph brute_force(const Embeddings& e, int k) {
  KnnGraph g;
  int64_t n = e.rows();
  g.k = std::min<int64_t>(k, n - 1);
  g.count.assign(n, 0);
  g.neighbor.assign(n * g.k, -1);
  g.similarity.assign(n * g.k, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<std::pair<float, int32_t>> all;
    for (int64_t j = 0; j < n; ++j)
      if (j != i && e.dot(i, j) > 0) all.push_back({-e.dot(i, j), static_cast<int32_t>(j)});
    std::sort(all.begin(), all.end());
    g.count[i] = static_cast<int32_t>(std::min<int64_t>(g.k, all.size()));
    for (int64_t r = 0; r < g.count[i]; ++r) {
      g.neighbor[i * g.k + r] = all[r].second;
      g.similarity[i * g.k + r] = -all[r].first;
    }
  }
  return g;
}

void check_same_graph(const KnnGraph& a, const KnnGraph& b) {
  REQUIRE(a.k == b.k);
  CHECK(a.count == b.count);
  CHECK(a.neighbor == b.neighbor);
  CHECK(a.similarity == b.similarity);  // bitwise: same summation order everywhere
}

}  // namespace

TEST_CASE("hashed terms: lowercase words, punctuation separates, unigrams + bigrams", "[data]") {
  auto a = hashed_terms("Hello, WORLD! hello world", 18, true);
  // Hello, WORLD, (hello world), hello, (world hello), world, (hello world)
  REQUIRE(a.size() == 4 + 3);
  CHECK(a[0] == a[3]);  // "Hello" == "hello"
  CHECK(a[1] == a[5]);  // "WORLD" == "world"
  CHECK(a[2] == a[6]);  // bigram "hello world" twice
  CHECK(a[2] != a[4]);  // bigrams are ordered
  CHECK(a[0] != a[1]);
  CHECK(hashed_terms("a-b", 18, false).size() == 2);
  CHECK(hashed_terms("  ...  ", 18, true).empty());
  CHECK(hashed_terms("caf\xc3\xa9 x", 18, false).size() == 2);  // UTF-8 stays inside a word
  for (int32_t t : hashed_terms("many words to hash here", 4, true)) CHECK((t >= 0 && t < 16));
}

TEST_CASE("TF-IDF rows are L2-normalised; terms in every document vanish", "[data]") {
  TfidfOptions o;
  o.max_df = 1.0;
  Embeddings e = TfidfEmbedder(o).embed(
      {"the cat sat", "the dog ran", "the cat sat", "the", "", "dog dog dog cat"});
  REQUIRE(e.rows() == 6);
  CHECK(e.dim == (1 << 18));
  for (int64_t i : {0, 1, 2, 5}) CHECK(e.dot(i, i) == Approx(1.0).epsilon(1e-6));
  // "the" is in 4 of 6 documents, so it keeps a weight; row 3 is "the" alone.
  CHECK(e.dot(3, 3) == Approx(1.0));
  CHECK(e.row_ptr[5] - e.row_ptr[4] == 0);  // empty text: empty row
  CHECK(e.dot(0, 2) == Approx(1.0));        // identical texts
  CHECK(e.dot(0, 1) > 0);                   // share "the"
  CHECK(e.dot(0, 1) < e.dot(0, 5));         // "cat" is rarer than "the"
  // A term in every document has idf ln(1) = 0: two texts of one shared word are empty rows.
  Embeddings z = TfidfEmbedder(o).embed({"same", "same"});
  CHECK(z.nnz() == 0);
  // max_df drops frequent terms: with max_df 0.5, "the" (4/6) is gone.
  o.max_df = 0.5;
  Embeddings m = TfidfEmbedder(o).embed(
      {"the cat sat", "the dog ran", "the cat sat", "the", "", "dog dog dog cat"});
  CHECK(m.row_ptr[4] - m.row_ptr[3] == 0);
  CHECK_THROWS_AS(TfidfEmbedder(TfidfOptions{40}), Error);
}

TEST_CASE("dense embeddings are normalised rows", "[data]") {
  Embeddings e = dense_embeddings({3, 4, 0, 0, 0, 2}, 2, 3);
  CHECK(e.dot(0, 0) == Approx(1.0));
  CHECK(e.dot(1, 1) == Approx(1.0));
  CHECK(e.dot(0, 1) == Approx(0.0));
  CHECK_THROWS_AS(dense_embeddings({1, 2, 3}, 2, 2), Error);
}

TEST_CASE("exact kNN equals brute force, for k below and above N - 1", "[data]") {
  SyntheticCorpus c = small_corpus(250);
  Embeddings e = TfidfEmbedder().embed(c.texts);
  for (int k : {1, 7, 50, 1000}) {
    INFO("k = " << k);
    KnnGraph g = knn_exact(e, k);
    check_same_graph(g, brute_force(e, k));
    for (int64_t i = 0; i < g.rows(); ++i)
      for (int64_t r = 1; r < g.count[i]; ++r)
        CHECK(g.similarity_at(i, r - 1) >= g.similarity_at(i, r));
  }
  CHECK(knn_exact(e, 1000).k == 249);
  CHECK_THROWS_AS(knn_exact(e, 0), Error);
}

TEST_CASE("ties are broken by document index", "[data]") {
  // Documents 1, 2 and 3 are identical, so row 0 sees three equal similarities.
  Embeddings e = dense_embeddings({1, 0, 1, 1, 1, 1, 1, 1, 0, 1}, 5, 2);
  KnnGraph g = knn_exact(e, 2);
  CHECK(g.neighbor_at(0, 0) == 1);
  CHECK(g.neighbor_at(0, 1) == 2);
  CHECK(g.neighbor_at(3, 0) == 1);
  CHECK(g.neighbor_at(3, 1) == 2);
}

TEST_CASE("kNN and embeddings are bitwise identical on 1 and 2 threads", "[data]") {
  SyntheticCorpus c = small_corpus(600);
  int saved = num_threads();
  KnnOptions approx;
  approx.method = KnnMethod::approximate;
  approx.k = 10;
  set_num_threads(1);
  Embeddings e1 = TfidfEmbedder().embed(c.texts);
  KnnGraph x1 = knn_exact(e1, 10), a1 = knn_approximate(e1, approx);
  set_num_threads(2);
  Embeddings e2 = TfidfEmbedder().embed(c.texts);
  KnnGraph x2 = knn_exact(e2, 10), a2 = knn_approximate(e2, approx);
  set_num_threads(saved);
  CHECK(e1.col == e2.col);
  CHECK(e1.val == e2.val);
  check_same_graph(x1, x2);
  check_same_graph(a1, a2);
}

TEST_CASE("approximate kNN finds most exact neighbours, with exact similarities", "[data]") {
  SyntheticCorpus c = small_corpus(2000);
  Embeddings e = TfidfEmbedder().embed(c.texts);
  KnnOptions o;
  o.k = 20;
  o.method = KnnMethod::approximate;
  KnnGraph exact = knn_exact(e, o.k), approx = knn_graph(e, o);
  int64_t found = 0, total = 0;
  for (int64_t i = 0; i < e.rows(); ++i) {
    total += exact.count[i];
    for (int64_t r = 0; r < approx.count[i]; ++r) {
      int32_t j = approx.neighbor_at(i, r);
      CHECK(approx.similarity_at(i, r) == e.dot(i, j));
      for (int64_t q = 0; q < exact.count[i]; ++q) found += exact.neighbor_at(i, q) == j;
    }
  }
  double recall = static_cast<double>(found) / total;
  INFO("recall " << recall);
  CHECK(recall > 0.9);
  o.probes = 1000;  // probing every cluster is exhaustive: exactly the exact graph
  check_same_graph(knn_approximate(e, o), exact);
  CHECK(knn_uses_exact(20000, KnnOptions{}));
  CHECK_FALSE(knn_uses_exact(20001, KnnOptions{}));
}

TEST_CASE("in-degree and near-duplicate removal", "[data]") {
  // 0, 2 and 4 are copies; 1 and 3 are distinct from each other and from them.
  Embeddings e = dense_embeddings({1, 0, 0, 0, 1, 0, 1, 0, 0, 0.2f, 0.1f, 1, 1, 0, 0}, 5, 3);
  KnnGraph g = knn_exact(e, 4);
  std::vector<int32_t> degree = knn_in_degree(g);
  int64_t edges = 0;
  for (int32_t c : g.count) edges += c;
  int64_t total = 0;
  for (int32_t d : degree) total += d;
  CHECK(total == edges);
  CHECK(near_duplicate_keep(g, 0.999f) == std::vector<uint8_t>{1, 1, 0, 1, 0});
  CHECK(near_duplicate_keep(g, 1.5f) == std::vector<uint8_t>{1, 1, 1, 1, 1});
  std::vector<uint8_t> keep{1, 1, 0, 1, 0};
  std::vector<int32_t> kept_degree = knn_in_degree(g, &keep);
  CHECK(kept_degree[2] == 0);
  CHECK(kept_degree[4] == 0);
}
