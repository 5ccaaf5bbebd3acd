// Similarity (ICP greedy path) and random document orders, their statistics, order files.
#include "data/ordering.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <unordered_map>

#include "core/error.h"
#include "core/random.h"
#include "data/shards.h"

namespace lory {
namespace {

void check_keep(const std::vector<uint8_t>* keep, int64_t n, const char* fn) {
  LORY_CHECK(!keep || static_cast<int64_t>(keep->size()) == n, fn, ": keep has ",
             keep ? keep->size() : 0, " entries for ", n, " documents");
}

nlohmann::json stats_json(const OrderStats& s) {
  return {{"documents", s.documents},
          {"mean_adjacent_similarity", s.mean_adjacent_similarity},
          {"same_domain_fraction", s.same_domain_fraction}};
}

OrderStats stats_from_json(const nlohmann::json& j) {
  OrderStats s;
  s.documents = j.at("documents").get<int64_t>();
  s.mean_adjacent_similarity = j.at("mean_adjacent_similarity").get<double>();
  s.same_domain_fraction = j.at("same_domain_fraction").get<double>();
  return s;
}

}  // namespace

std::vector<int64_t> similarity_order(const KnnGraph& g, const std::vector<uint8_t>* keep) {
  const int64_t n = g.rows();
  check_keep(keep, n, "similarity_order");
  std::vector<int32_t> degree = knn_in_degree(g, keep);
  std::vector<uint8_t> visited(n, 0);
  std::vector<int64_t> by_degree;  // kept documents by (in-degree, index)
  for (int64_t i = 0; i < n; ++i) {
    if (keep && !(*keep)[i])
      visited[i] = 1;
    else
      by_degree.push_back(i);
  }
  std::stable_sort(by_degree.begin(), by_degree.end(),
                   [&](int64_t a, int64_t b) { return degree[a] < degree[b]; });
  std::vector<int64_t> order;
  order.reserve(by_degree.size());
  size_t next_start = 0;
  while (order.size() < by_degree.size()) {
    while (visited[by_degree[next_start]]) ++next_start;
    int64_t cur = by_degree[next_start];
    for (;;) {
      visited[cur] = 1;
      order.push_back(cur);
      int64_t next = -1;  // neighbours are sorted most similar first
      for (int64_t r = 0; r < g.count[cur] && next < 0; ++r)
        if (!visited[g.neighbor_at(cur, r)]) next = g.neighbor_at(cur, r);
      if (next < 0) break;
      cur = next;
    }
  }
  return order;
}

std::vector<int64_t> random_order(int64_t n, uint64_t seed, const std::vector<uint8_t>* keep) {
  check_keep(keep, n, "random_order");
  std::vector<int64_t> order;
  for (int64_t i = 0; i < n; ++i)
    if (!keep || (*keep)[i]) order.push_back(i);
  Generator gen(seed);
  for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i)
    std::swap(order[i], order[gen.below(i + 1)]);
  return order;
}

OrderStats order_stats(const std::vector<int64_t>& order, const Embeddings& e,
                       const std::vector<int32_t>& domain) {
  LORY_CHECK(static_cast<int64_t>(domain.size()) == e.rows(), "order_stats: ", domain.size(),
             " domains for ", e.rows(), " embeddings");
  OrderStats s;
  s.documents = static_cast<int64_t>(order.size());
  for (int64_t d : order)
    LORY_CHECK(d >= 0 && d < e.rows(), "order_stats: document ", d, " is out of range 0..",
               e.rows() - 1);
  if (order.size() < 2) return s;
  double sim = 0;
  int64_t same = 0;
  for (size_t i = 1; i < order.size(); ++i) {
    sim += e.dot(order[i - 1], order[i]);
    same += domain[order[i - 1]] == domain[order[i]];
  }
  s.mean_adjacent_similarity = sim / static_cast<double>(order.size() - 1);
  s.same_domain_fraction = static_cast<double>(same) / static_cast<double>(order.size() - 1);
  return s;
}

void write_order_file(const std::string& path, const OrderFile& o) {
  nlohmann::json j = {{"format", "lory-order"},
                      {"version", 1},
                      {"method", o.method},
                      {"seed", o.seed},
                      {"stats", stats_json(o.stats)},
                      {"random_stats", stats_json(o.random_stats)},
                      {"info", o.info},
                      {"ids", o.ids}};
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    LORY_CHECK(out, "write_order_file: cannot open '", tmp, "' for writing");
    out << j.dump(1) << "\n";
    out.close();
    LORY_CHECK(!out.fail(), "write_order_file: writing '", tmp, "' failed (disk full?)");
  }
  LORY_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "write_order_file: cannot rename '", tmp,
             "' to '", path, "'");
}

OrderFile read_order_file(const std::string& path) {
  std::ifstream in(path);
  LORY_CHECK(in, "read_order_file: cannot open '", path, "'");
  OrderFile o;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    LORY_CHECK(j.value("format", "") == "lory-order" && j.value("version", 0) == 1,
               "read_order_file: '", path, "' is not a version 1 lory order file");
    o.method = j.at("method").get<std::string>();
    o.seed = j.at("seed").get<uint64_t>();
    o.ids = j.at("ids").get<std::vector<std::string>>();
    o.stats = stats_from_json(j.at("stats"));
    o.random_stats = stats_from_json(j.at("random_stats"));
    o.info = j.value("info", nlohmann::json::object());
  } catch (const nlohmann::json::exception& ex) {
    LORY_FAIL("read_order_file: '", path, "' is malformed: ", ex.what());
  }
  return o;
}

std::vector<int64_t> order_indices(const std::vector<std::string>& ids, const ShardData& shard,
                                   const std::string& where) {
  std::unordered_map<std::string, int64_t> index;
  for (int64_t d = 0; d < shard.num_docs(); ++d) index.emplace(shard.doc_id(d), d);
  std::vector<uint8_t> used(shard.num_docs(), 0);
  std::vector<int64_t> order;
  order.reserve(ids.size());
  for (size_t p = 0; p < ids.size(); ++p) {
    auto it = index.find(ids[p]);
    LORY_CHECK(it != index.end(), where, ": document id '", ids[p], "' at position ", p,
               " is not in the shard");
    LORY_CHECK(!used[it->second], where, ": document id '", ids[p],
               "' appears twice (again at position ", p, ")");
    used[it->second] = 1;
    order.push_back(it->second);
  }
  return order;
}

OrderFile build_order(const std::vector<std::string>& texts, const std::vector<std::string>& ids,
                      const std::vector<int32_t>& domain, const Embedder& embedder,
                      const OrderOptions& options) {
  LORY_CHECK(ids.size() == texts.size() && domain.size() == texts.size(),
             "build_order: ", texts.size(), " texts, ", ids.size(), " ids and ", domain.size(),
             " domains; expected one of each per document");
  LORY_CHECK(options.method == "similarity" || options.method == "random",
             "build_order: method is '", options.method, "'; expected 'similarity' or 'random'");
  using clock = std::chrono::steady_clock;
  auto seconds = [](clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
  };
  OrderFile o;
  o.method = options.method;
  o.seed = options.seed;
  auto t0 = clock::now();
  Embeddings e = embedder.embed(texts);
  o.info["embedder"] = embedder.name();
  o.info["embed_seconds"] = seconds(t0);
  std::vector<uint8_t> keep;
  std::vector<int64_t> order;
  if (options.method == "similarity" || options.dedup_threshold > 0) {
    t0 = clock::now();
    KnnGraph g = knn_graph(e, options.knn);
    o.info["k"] = g.k;
    o.info["knn"] = knn_uses_exact(e.rows(), options.knn) ? "exact" : "approximate";
    o.info["knn_seconds"] = seconds(t0);
    if (options.dedup_threshold > 0) {
      keep = near_duplicate_keep(g, options.dedup_threshold);
      o.info["dedup_threshold"] = options.dedup_threshold;
      o.info["duplicates_removed"] = std::count(keep.begin(), keep.end(), 0);
    }
    t0 = clock::now();
    if (options.method == "similarity") order = similarity_order(g, keep.empty() ? nullptr : &keep);
    o.info["order_seconds"] = seconds(t0);
  }
  std::vector<int64_t> shuffled =
      random_order(e.rows(), options.seed, keep.empty() ? nullptr : &keep);
  if (options.method == "random") order = shuffled;
  o.stats = order_stats(order, e, domain);
  o.random_stats = order_stats(shuffled, e, domain);
  o.ids.reserve(order.size());
  for (int64_t d : order) o.ids.push_back(ids[d]);
  return o;
}

}  // namespace lory
