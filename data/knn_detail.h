// Internals shared by the exact and approximate kNN searches (not part of the API).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "data/knn.h"

namespace lory::detail {

struct Candidate {
  float score;
  int32_t doc;
};

// Higher score first, then lower document index: the one order every search reports.
bool better(const Candidate& a, const Candidate& b);
// Writes the best min(k, |cand|) candidates of `cand` (reordered) into row `row` of g.
void write_top_k(std::vector<Candidate>& cand, KnnGraph& g, int64_t row);
// A graph of n rows with k clamped to [1, n - 1] and every row empty.
KnnGraph empty_graph(int64_t n, int k);
// Calls fn(begin, end) on blocks of `block` rows of [0, n), threads pulling blocks dynamically.
void for_each_block(int64_t n, int64_t block, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace lory::detail
