// Document orders for training (LORY.md §5 step 3): the In-Context Pretraining greedy path
// through the kNN graph, a seeded random order (the baseline), their statistics, and the
// order file that records one.
//
//   KnnGraph g = knn_graph(tfidf.embed(texts), {});
//   std::vector<int64_t> order = similarity_order(g);         // a permutation of 0..N-1
//   OrderStats s = order_stats(order, embeddings, domains);   // adjacent cosine, same domain
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/embedding.h"
#include "data/knn.h"

namespace lory {

struct ShardData;

// ICP Algorithm 1 (Shi et al. 2023): start at an unvisited document of minimum in-degree in
// the kNN graph (ties: lowest index), move to its most similar unvisited neighbour, and when
// none is left jump to the next unvisited minimum-degree document. Low in-degree documents
// are those few others point at; starting there leaves the well-connected hubs for the
// middle of paths, where they can still be reached. Every document (with keep[i] != 0, when
// `keep` is given) is placed exactly once. O(N k).
std::vector<int64_t> similarity_order(const KnnGraph& g,
                                      const std::vector<uint8_t>* keep = nullptr);

// A seeded Fisher-Yates shuffle of 0..n-1 (of the kept documents when `keep` is given).
std::vector<int64_t> random_order(int64_t n, uint64_t seed,
                                  const std::vector<uint8_t>* keep = nullptr);

struct OrderStats {
  int64_t documents = 0;
  double mean_adjacent_similarity = 0;  // mean cosine of consecutive documents
  double same_domain_fraction = 0;      // fraction of consecutive pairs from one domain
};
OrderStats order_stats(const std::vector<int64_t>& order, const Embeddings& e,
                       const std::vector<int32_t>& domain);

// What an order file holds: the documents by id, in training order, and how it was made.
struct OrderFile {
  std::string method;            // "similarity" or "random"
  uint64_t seed = 0;             // of the random order (and the random baseline's)
  std::vector<std::string> ids;  // document ids in order
  OrderStats stats;              // of this order
  OrderStats random_stats;       // of a seeded random order of the same documents
  nlohmann::json info = nlohmann::json::object();  // free-form: embedder, k, timings, ...
};

// JSON {"format": "lory-order", "version": 1, "method", "seed", "stats", "random_stats",
// "info", "ids": [...]}, written to path.tmp and renamed.
void write_order_file(const std::string& path, const OrderFile& order);
OrderFile read_order_file(const std::string& path);

// Maps an order's ids to document indices of `shard`; an unknown or repeated id throws an
// error naming it and `where`. The order may omit documents (near-duplicates removed).
std::vector<int64_t> order_indices(const std::vector<std::string>& ids, const ShardData& shard,
                                   const std::string& where);

struct OrderOptions {
  std::string method = "similarity";  // or "random"
  uint64_t seed = 0;
  KnnOptions knn;
  float dedup_threshold = 0;  // > 0: drop near-duplicates at or above this cosine
};

// The whole pipeline on a corpus: embed, kNN, (dedup), order, statistics of the order and of a
// random baseline with options.seed. ids and domain have one entry per text.
OrderFile build_order(const std::vector<std::string>& texts, const std::vector<std::string>& ids,
                      const std::vector<int32_t>& domain, const Embedder& embedder,
                      const OrderOptions& options);

}  // namespace lory
