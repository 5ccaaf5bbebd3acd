// Approximate kNN for corpora too large for the exact search (its cost grows with N^2):
// documents are clustered by spherical k-means with sparse centroids, and a query searches
// exactly (inverted index, exact cosines) only inside its nearest clusters.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/random.h"
#include "core/threads.h"
#include "data/knn.h"
#include "data/knn_detail.h"

namespace lory {
namespace {

// Spherical k-means centroids, kept sparse: a centroid is the normalised sum of its members
// truncated to its `terms` largest weights, so document-centroid scores are exact sparse dot
// products without a dense (clusters x dim) matrix. Stored inverted: column -> (centroid,
// weight), in increasing centroid order.
struct Centroids {
  int64_t count = 0;
  std::vector<int64_t> start;  // (dim + 1)
  std::vector<int32_t> id;
  std::vector<float> weight;
};

Centroids make_centroids(const Embeddings& e, const std::vector<std::vector<int32_t>>& members,
                         int terms) {
  const int64_t clusters = static_cast<int64_t>(members.size());
  std::vector<std::vector<std::pair<int32_t, float>>> lists(clusters);
  detail::for_each_block(clusters, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> sum(e.dim, 0.0);  // member sums in member order: deterministic
    std::vector<uint8_t> mark(e.dim, 0);
    std::vector<int32_t> touched;
    for (int64_t c = begin; c < end; ++c) {
      touched.clear();
      for (int32_t m : members[c])
        for (int64_t p = e.row_ptr[m]; p < e.row_ptr[m + 1]; ++p) {
          if (!mark[e.col[p]]) mark[e.col[p]] = 1, touched.push_back(e.col[p]);
          sum[e.col[p]] += e.val[p];
        }
      auto larger = [&](int32_t a, int32_t b) {
        double wa = std::abs(sum[a]), wb = std::abs(sum[b]);
        return wa > wb || (wa == wb && a < b);
      };
      size_t keep = std::min<size_t>(terms, touched.size());
      std::nth_element(touched.begin(), touched.begin() + keep, touched.end(), larger);
      std::sort(touched.begin(), touched.begin() + keep);
      double norm2 = 0;
      for (size_t t = 0; t < keep; ++t) norm2 += sum[touched[t]] * sum[touched[t]];
      for (size_t t = 0; t < keep && norm2 > 0; ++t)
        lists[c].push_back({touched[t], static_cast<float>(sum[touched[t]] / std::sqrt(norm2))});
      for (int32_t col : touched) sum[col] = 0.0, mark[col] = 0;
    }
  });
  Centroids cen;
  cen.count = clusters;
  cen.start.assign(e.dim + 1, 0);
  for (const auto& list : lists)
    for (const auto& entry : list) ++cen.start[entry.first + 1];
  for (int64_t c = 0; c < e.dim; ++c) cen.start[c + 1] += cen.start[c];
  cen.id.resize(cen.start[e.dim]);
  cen.weight.resize(cen.start[e.dim]);
  std::vector<int64_t> fill(cen.start.begin(), cen.start.end() - 1);
  for (int64_t c = 0; c < clusters; ++c)
    for (const auto& entry : lists[c]) {
      int64_t q = fill[entry.first]++;
      cen.id[q] = static_cast<int32_t>(c);
      cen.weight[q] = entry.second;
    }
  return cen;
}

// For every document, its `top` best-scoring centroids (ties: lower index).
std::vector<int32_t> nearest_centroids(const Embeddings& e, const Centroids& cen, int top) {
  const int64_t n = e.rows();
  std::vector<int32_t> best(n * top);
  detail::for_each_block(n, 256, [&](int64_t begin, int64_t end) {
    std::vector<float> acc(cen.count);
    std::vector<int32_t> idx(cen.count);
    for (int64_t i = begin; i < end; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t p = e.row_ptr[i]; p < e.row_ptr[i + 1]; ++p)
        for (int64_t q = cen.start[e.col[p]]; q < cen.start[e.col[p] + 1]; ++q)
          acc[cen.id[q]] += e.val[p] * cen.weight[q];
      for (int64_t c = 0; c < cen.count; ++c) idx[c] = static_cast<int32_t>(c);
      std::partial_sort(idx.begin(), idx.begin() + top, idx.end(), [&](int32_t a, int32_t b) {
        return acc[a] > acc[b] || (acc[a] == acc[b] && a < b);
      });
      std::copy(idx.begin(), idx.begin() + top, best.begin() + i * top);
    }
  });
  return best;
}

// Spherical k-means from `clusters` distinct random documents; returns each document's `top`
// nearest final centroids (the first is its cluster).
std::vector<int32_t> cluster(const Embeddings& e, int64_t clusters, const KnnOptions& o, int top) {
  const int64_t n = e.rows();
  std::vector<int64_t> pick(n);
  for (int64_t i = 0; i < n; ++i) pick[i] = i;
  Generator gen(o.seed);
  std::vector<std::vector<int32_t>> members(clusters);
  for (int64_t j = 0; j < clusters; ++j) {
    std::swap(pick[j], pick[j + gen.below(n - j)]);
    members[j] = {static_cast<int32_t>(pick[j])};
  }
  for (int it = 0; it < o.kmeans_iterations; ++it) {
    Centroids cen = make_centroids(e, members, o.centroid_terms);
    std::vector<int32_t> assign = nearest_centroids(e, cen, 1);
    for (auto& m : members) m.clear();
    for (int64_t i = 0; i < n; ++i) members[assign[i]].push_back(static_cast<int32_t>(i));
  }
  return nearest_centroids(e, make_centroids(e, members, o.centroid_terms), top);
}

// One inverted index per cluster: its documents, and for each column present in them the
// (local document, value) postings, sorted by column then document.
struct ClusterIndex {
  std::vector<int32_t> docs;      // global indices, increasing
  std::vector<int32_t> columns;   // distinct columns, increasing
  std::vector<int32_t> start;     // postings of columns[t]: [start[t], start[t+1])
  std::vector<int32_t> post_doc;  // local index into docs
  std::vector<float> post_val;
};

ClusterIndex build_index(const Embeddings& e, std::vector<int32_t> docs) {
  ClusterIndex ci;
  struct Entry {
    int32_t col, doc;
    float val;
  };
  std::vector<Entry> entries;
  for (size_t d = 0; d < docs.size(); ++d)
    for (int64_t p = e.row_ptr[docs[d]]; p < e.row_ptr[docs[d] + 1]; ++p)
      entries.push_back({e.col[p], static_cast<int32_t>(d), e.val[p]});
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.col < b.col || (a.col == b.col && a.doc < b.doc);
  });
  for (size_t q = 0; q < entries.size(); ++q) {
    if (q == 0 || entries[q].col != entries[q - 1].col) {
      ci.columns.push_back(entries[q].col);
      ci.start.push_back(static_cast<int32_t>(q));
    }
    ci.post_doc.push_back(entries[q].doc);
    ci.post_val.push_back(entries[q].val);
  }
  ci.start.push_back(static_cast<int32_t>(entries.size()));
  ci.docs = std::move(docs);
  return ci;
}

}  // namespace

KnnGraph knn_approximate(const Embeddings& e, const KnnOptions& o) {
  using detail::Candidate;
  const int64_t n = e.rows();
  LORY_CHECK(o.centroid_terms >= 1 && o.probes >= 1 && o.kmeans_iterations >= 0 && o.clusters >= 0,
             "knn_approximate: need centroid_terms >= 1, probes >= 1, kmeans_iterations >= 0 "
             "and clusters >= 0 (0: automatic); got ",
             o.centroid_terms, ", ", o.probes, ", ", o.kmeans_iterations, ", ", o.clusters);
  LORY_CHECK(e.dim <= (int64_t{1} << 26), "knn_approximate: embedding dimension ", e.dim,
             " is too large for the per-thread column maps; expected at most 2^26");
  KnnGraph g = detail::empty_graph(n, o.k);
  if (n < 2) return g;
  int64_t clusters = o.clusters > 0 ? std::min(o.clusters, n)
                                    : std::max<int64_t>(1, std::llround(std::sqrt(double(n))));
  int probes = static_cast<int>(std::min<int64_t>(o.probes, clusters));
  std::vector<int32_t> probe = cluster(e, clusters, o, probes);
  std::vector<std::vector<int32_t>> members(clusters);
  for (int64_t i = 0; i < n; ++i) members[probe[i * probes]].push_back(static_cast<int32_t>(i));
  std::vector<ClusterIndex> index(clusters);
  detail::for_each_block(clusters, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) index[c] = build_index(e, std::move(members[c]));
  });
  // Queries are searched in groups by home cluster: neighbouring queries probe mostly the same
  // clusters, so each probed cluster's column -> term map is filled once per group and every
  // query term is found by one array lookup.
  detail::for_each_block(clusters, 1, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> slot(e.dim, -1);
    std::vector<float> acc;
    for (int64_t h = begin; h < end; ++h) {
      const std::vector<int32_t>& queries = index[h].docs;
      std::vector<std::vector<Candidate>> cand(queries.size());
      std::vector<std::pair<int32_t, int32_t>> visits;  // (probed cluster, query in group)
      for (size_t qi = 0; qi < queries.size(); ++qi)
        for (int pr = 0; pr < probes; ++pr)
          visits.push_back({probe[int64_t{queries[qi]} * probes + pr], static_cast<int32_t>(qi)});
      std::sort(visits.begin(), visits.end());
      for (size_t v = 0; v < visits.size();) {
        const ClusterIndex& ci = index[visits[v].first];
        for (size_t t = 0; t < ci.columns.size(); ++t)
          slot[ci.columns[t]] = static_cast<int32_t>(t);
        for (int32_t c = visits[v].first; v < visits.size() && visits[v].first == c; ++v) {
          int64_t i = queries[visits[v].second];
          // acc[d] sums in increasing column order: exactly Embeddings::dot's float.
          acc.assign(ci.docs.size(), 0.0f);
          for (int64_t p = e.row_ptr[i]; p < e.row_ptr[i + 1]; ++p) {
            int32_t t = slot[e.col[p]];
            if (t < 0) continue;
            float w = e.val[p];
            for (int32_t q = ci.start[t]; q < ci.start[t + 1]; ++q)
              acc[ci.post_doc[q]] += w * ci.post_val[q];
          }
          for (size_t d = 0; d < acc.size(); ++d)
            if (ci.docs[d] != i && acc[d] > 0.0f)
              cand[visits[v].second].push_back({acc[d], ci.docs[d]});
        }
        for (int32_t col : ci.columns) slot[col] = -1;
      }
      for (size_t qi = 0; qi < queries.size(); ++qi) detail::write_top_k(cand[qi], g, queries[qi]);
    }
  });
  return g;
}

}  // namespace lory
