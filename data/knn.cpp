// Exact k-nearest-neighbour search over an inverted index; in-degrees; near-duplicates.
#include "data/knn.h"

#include <algorithm>
#include <atomic>

#include "core/error.h"
#include "core/threads.h"
#include "data/knn_detail.h"

namespace lory {

namespace detail {

bool better(const Candidate& a, const Candidate& b) {
  return a.score > b.score || (a.score == b.score && a.doc < b.doc);
}

void write_top_k(std::vector<Candidate>& cand, KnnGraph& g, int64_t row) {
  int64_t k = g.k;
  int64_t m = std::min<int64_t>(k, static_cast<int64_t>(cand.size()));
  if (static_cast<int64_t>(cand.size()) > m)
    std::nth_element(cand.begin(), cand.begin() + m, cand.end(), better);
  std::sort(cand.begin(), cand.begin() + m, better);
  g.count[row] = static_cast<int32_t>(m);
  for (int64_t r = 0; r < m; ++r) {
    g.neighbor[row * k + r] = cand[r].doc;
    g.similarity[row * k + r] = cand[r].score;
  }
}

KnnGraph empty_graph(int64_t n, int k) {
  LORY_CHECK(k >= 1, "knn: k is ", k, "; expected at least 1");
  KnnGraph g;
  g.k = std::max<int64_t>(1, std::min<int64_t>(k, n - 1));
  g.neighbor.assign(n * g.k, -1);
  g.similarity.assign(n * g.k, 0.0f);
  g.count.assign(n, 0);
  return g;
}

void for_each_block(int64_t n, int64_t block, const std::function<void(int64_t, int64_t)>& fn) {
  // Dynamic schedule over blocks: every thread pulls the next block. Results do not depend on
  // which thread runs a block, since every row is computed by one call independently.
  std::atomic<int64_t> next{0};
  int64_t blocks = (n + block - 1) / block;
  parallel_for(std::min<int64_t>(num_threads(), blocks), 1, [&](int64_t, int64_t) {
    for (int64_t b; (b = next.fetch_add(1)) < blocks;) fn(b * block, std::min(n, (b + 1) * block));
  });
}

}  // namespace detail

KnnGraph knn_exact(const Embeddings& e, int k) {
  using detail::Candidate;
  const int64_t n = e.rows();
  KnnGraph g = detail::empty_graph(n, k);
  // Inverted index: for every column, the (document, value) pairs in increasing document order.
  std::vector<int64_t> start(e.dim + 1, 0);
  for (int32_t c : e.col) ++start[c + 1];
  for (int64_t c = 0; c < e.dim; ++c) start[c + 1] += start[c];
  std::vector<int32_t> post_doc(e.nnz());
  std::vector<float> post_val(e.nnz());
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = e.row_ptr[j]; p < e.row_ptr[j + 1]; ++p) {
        int64_t q = fill[e.col[p]]++;
        post_doc[q] = static_cast<int32_t>(j);
        post_val[q] = e.val[p];
      }
  }
  detail::for_each_block(n, 64, [&](int64_t begin, int64_t end) {
    // acc[j] sums query . doc j over shared columns in increasing column order, as
    // Embeddings::dot does; seen[j] marks the documents touched by the current query.
    std::vector<float> acc(n, 0.0f);
    std::vector<int32_t> seen(n, -1);
    std::vector<int32_t> touched;
    std::vector<Candidate> cand;
    for (int64_t i = begin; i < end; ++i) {
      touched.clear();
      for (int64_t p = e.row_ptr[i]; p < e.row_ptr[i + 1]; ++p) {
        float w = e.val[p];
        for (int64_t q = start[e.col[p]]; q < start[e.col[p] + 1]; ++q) {
          int32_t j = post_doc[q];
          if (seen[j] != i) seen[j] = i, acc[j] = 0.0f, touched.push_back(j);
          acc[j] += w * post_val[q];
        }
      }
      cand.clear();
      for (int32_t j : touched)
        if (j != i && acc[j] > 0.0f) cand.push_back({acc[j], j});
      detail::write_top_k(cand, g, i);
    }
  });
  return g;
}

bool knn_uses_exact(int64_t documents, const KnnOptions& options) {
  return options.method == KnnMethod::exact ||
         (options.method == KnnMethod::automatic && documents <= options.exact_limit);
}

KnnGraph knn_graph(const Embeddings& e, const KnnOptions& options) {
  return knn_uses_exact(e.rows(), options) ? knn_exact(e, options.k) : knn_approximate(e, options);
}

std::vector<int32_t> knn_in_degree(const KnnGraph& g, const std::vector<uint8_t>* keep) {
  LORY_CHECK(!keep || static_cast<int64_t>(keep->size()) == g.rows(), "knn_in_degree: keep has ",
             keep ? keep->size() : 0, " entries for ", g.rows(), " documents");
  std::vector<int32_t> degree(g.rows(), 0);
  for (int64_t i = 0; i < g.rows(); ++i) {
    if (keep && !(*keep)[i]) continue;
    for (int64_t r = 0; r < g.count[i]; ++r) {
      int32_t j = g.neighbor_at(i, r);
      if (!keep || (*keep)[j]) ++degree[j];
    }
  }
  return degree;
}

std::vector<uint8_t> near_duplicate_keep(const KnnGraph& g, float threshold) {
  std::vector<uint8_t> keep(g.rows(), 1);
  // Pair (i, j), i < j, linked with similarity >= threshold in either row: when i is kept,
  // j is dropped while scanning i (if j is in row i) or while scanning j (if i is in row j).
  for (int64_t i = 0; i < g.rows(); ++i) {
    for (int64_t r = 0; r < g.count[i] && keep[i]; ++r) {
      int32_t j = g.neighbor_at(i, r);
      if (j < i && keep[j] && g.similarity_at(i, r) >= threshold) keep[i] = 0;
    }
    for (int64_t r = 0; r < g.count[i] && keep[i]; ++r) {
      int32_t j = g.neighbor_at(i, r);
      if (j > i && g.similarity_at(i, r) >= threshold) keep[j] = 0;
    }
  }
  return keep;
}

}  // namespace lory
