// k-nearest-neighbour graph of document embeddings by cosine similarity (LORY.md §5 step 2):
// an exact search over an inverted index, an approximate one (k-means clusters, exact scores
// inside the nearest clusters) for corpora where exact is too slow, and near-duplicates.
//
//   KnnGraph g = knn_graph(embeddings, {});      // k = 50; exact up to 20000 documents
//   for (int64_t r = 0; r < g.count[i]; ++r) use(g.neighbor_at(i, r), g.similarity_at(i, r));
#pragma once
#include <cstdint>
#include <vector>

#include "data/embedding.h"

namespace lory {

// Row i lists up to k other documents with positive similarity, most similar first; equal
// similarities are ordered by increasing document index, so the graph is deterministic.
struct KnnGraph {
  int64_t k = 0;
  std::vector<int32_t> neighbor;  // (N, k); entries past count[i] are -1
  std::vector<float> similarity;  // (N, k); entries past count[i] are 0
  std::vector<int32_t> count;     // (N,)

  int64_t rows() const { return static_cast<int64_t>(count.size()); }
  int32_t neighbor_at(int64_t i, int64_t r) const { return neighbor[i * k + r]; }
  float similarity_at(int64_t i, int64_t r) const { return similarity[i * k + r]; }
};

// automatic: exact up to `exact_limit` documents, approximate above. Exact costs the sum over
// terms of df^2, quadratic in N. Measured with bench_ordering on the synthetic corpus (16
// domains, ~256 terms per document), CPU seconds: exact 22 s at 20K, 84 s at 40K, 517 s at
// 100K; approximate 44 s at 100K with recall@50 = 1.000 on 200 sampled queries.
enum class KnnMethod { automatic, exact, approximate };

struct KnnOptions {
  int k = 50;  // fewer where fewer documents share a term with the query
  KnnMethod method = KnnMethod::automatic;
  int64_t exact_limit = 20000;
  // approximate only: spherical k-means (`kmeans_iterations` rounds from random documents)
  // groups the documents into `clusters` lists (0: sqrt(N)), each centroid kept sparse with its
  // `centroid_terms` largest weights; a query scores exactly every document of its `probes`
  // nearest clusters (through per-cluster inverted indexes).
  int centroid_terms = 1024;
  int64_t clusters = 0;
  int probes = 8;
  int kmeans_iterations = 4;
  uint64_t seed = 0;
};

// The graph by options.method (exact or approximate) and options.k.
KnnGraph knn_graph(const Embeddings& e, const KnnOptions& options);
bool knn_uses_exact(int64_t documents, const KnnOptions& options);

// Exact top-k: for each query, accumulate dot products over the posting lists of its terms.
// Cost: sum over terms of df^2; parallel over queries, bitwise identical for any thread count.
KnnGraph knn_exact(const Embeddings& e, int k);
// Approximate top-k (see KnnOptions); the similarities it reports are exact cosines, only
// neighbours outside the probed clusters can be missed. Bitwise identical for any thread count.
KnnGraph knn_approximate(const Embeddings& e, const KnnOptions& options);

// How many rows list document j among their neighbours (in-degree), for each j; rows and
// neighbours with keep[.] == 0 do not count when `keep` is given.
std::vector<int32_t> knn_in_degree(const KnnGraph& g, const std::vector<uint8_t>* keep = nullptr);

// Near-duplicate removal: scanning documents in index order, a document is dropped when a kept
// one is linked to it (either direction) with similarity >= threshold. Returns keep[i].
std::vector<uint8_t> near_duplicate_keep(const KnnGraph& g, float threshold);

}  // namespace lory
