// Times the similarity-ordering pipeline (TF-IDF embedding, kNN graph, ICP greedy path) on a
// synthetic multi-domain corpus and compares the order with a seeded random one.
//   bench_ordering [--docs N] [--domains D] [--k K] [--knn exact|approximate|automatic] [--threads
//   T]
//                  [--max-df F] [--probes P] [--recall-sample S] [--seed S]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <numeric>
#include <string>

#include "core/error.h"
#include "core/threads.h"
#include "data/embedding.h"
#include "data/knn.h"
#include "data/ordering.h"
#include "data/synthetic.h"

using namespace lory;

namespace {

// Wall and CPU (all threads) seconds of a step: on a shared machine the CPU time is the steadier
// figure, and CPU / wall shows how well the step used the threads.
struct Timer {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
  std::pair<double, double> seconds() const {
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count(),
            static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC};
  }
};

// Recall@k of `g` against exact search, on `sample` evenly spaced queries: exact neighbours of
// one query cost one pass over its posting lists, so only the sampled rows are searched.
double sampled_recall(const Embeddings& e, const KnnGraph& g, int64_t sample) {
  int64_t n = e.rows(), found = 0, total = 0;
  for (int64_t s = 0; s < sample; ++s) {
    int64_t i = s * n / sample;
    std::vector<std::pair<float, int64_t>> all;
    for (int64_t j = 0; j < n; ++j)
      if (j != i) all.push_back({-e.dot(i, j), j});
    int64_t m = std::min<int64_t>(g.k, static_cast<int64_t>(all.size()));
    std::partial_sort(all.begin(), all.begin() + m, all.end());
    for (int64_t r = 0; r < m; ++r) {
      if (all[r].first >= 0) break;  // only positive similarities are neighbours
      ++total;
      for (int64_t q = 0; q < g.count[i]; ++q) found += g.neighbor_at(i, q) == all[r].second;
    }
  }
  return total ? static_cast<double>(found) / total : 1.0;
}

}  // namespace

int main(int argc, char** argv) try {
  SyntheticOptions corpus;
  corpus.num_docs = 100000;
  corpus.num_domains = 16;
  KnnOptions knn;
  TfidfOptions tfidf;
  int64_t recall_sample = 200;
  for (int a = 1; a < argc; ++a) {
    std::string flag = argv[a];
    LORY_CHECK(a + 1 < argc, "bench_ordering: ", flag, " needs a value");
    const char* v = argv[++a];
    if (flag == "--docs")
      corpus.num_docs = std::atoll(v);
    else if (flag == "--domains")
      corpus.num_domains = std::atoi(v);
    else if (flag == "--k")
      knn.k = std::atoi(v);
    else if (flag == "--knn")
      knn.method = std::strcmp(v, "exact") == 0         ? KnnMethod::exact
                   : std::strcmp(v, "approximate") == 0 ? KnnMethod::approximate
                                                        : KnnMethod::automatic;
    else if (flag == "--threads")
      set_num_threads(std::atoi(v));
    else if (flag == "--max-df")
      tfidf.max_df = std::atof(v);
    else if (flag == "--probes")
      knn.probes = std::atoi(v);
    else if (flag == "--centroid-terms")
      knn.centroid_terms = std::atoi(v);
    else if (flag == "--clusters")
      knn.clusters = std::atoll(v);
    else if (flag == "--kmeans-iterations")
      knn.kmeans_iterations = std::atoi(v);
    else if (flag == "--recall-sample")
      recall_sample = std::atoll(v);
    else if (flag == "--seed")
      corpus.seed = knn.seed = std::strtoull(v, nullptr, 10);
    else
      LORY_FAIL("bench_ordering: unknown option ", flag);
  }
  std::printf("corpus: %lld synthetic documents, %d domains, %d threads, kNN %s, k=%d\n",
              static_cast<long long>(corpus.num_docs), corpus.num_domains, num_threads(),
              knn_uses_exact(corpus.num_docs, knn) ? "exact" : "approximate", knn.k);
  Timer t;
  SyntheticCorpus c = synthetic_corpus(corpus);
  auto t_corpus = t.seconds();
  t = Timer();
  Embeddings e = TfidfEmbedder(tfidf).embed(c.texts);
  auto t_embed = t.seconds();
  t = Timer();
  KnnGraph g = knn_graph(e, knn);
  auto t_knn = t.seconds();
  t = Timer();
  std::vector<int64_t> order = similarity_order(g);
  auto t_order = t.seconds();
  std::vector<int64_t> shuffled = random_order(e.rows(), corpus.seed);
  OrderStats sim = order_stats(order, e, c.domain), rnd = order_stats(shuffled, e, c.domain);

  auto row = [](const char* step, std::pair<double, double> s) {
    std::printf("| %-20s | %8.2f | %8.2f |\n", step, s.first, s.second);
  };
  std::printf("\n| step                 | wall s   | CPU s    |\n");
  std::printf("|----------------------|----------|----------|\n");
  row("synthetic corpus", t_corpus);
  row("TF-IDF embedding", t_embed);
  row("kNN graph", t_knn);
  row("ICP greedy path", t_order);
  std::printf(
      "\n%.1f nonzeros per document; %.1f neighbours per document\n",
      static_cast<double>(e.nnz()) / std::max<int64_t>(1, e.rows()),
      std::accumulate(g.count.begin(), g.count.end(), 0.0) / std::max<int64_t>(1, g.rows()));
  std::printf("\n| order      | adjacent cosine | same-domain pairs |\n");
  std::printf("|------------|-----------------|-------------------|\n");
  std::printf("| similarity | %15.4f | %17.4f |\n", sim.mean_adjacent_similarity,
              sim.same_domain_fraction);
  std::printf("| random     | %15.4f | %17.4f |\n", rnd.mean_adjacent_similarity,
              rnd.same_domain_fraction);
  if (recall_sample > 0) {
    t = Timer();
    double recall = sampled_recall(e, g, recall_sample);
    std::printf("\nrecall@k against brute force on %lld sampled queries: %.4f (%.1f s)\n",
                static_cast<long long>(recall_sample), recall, t.seconds().first);
  }
  return 0;
} catch (const lory::Error& ex) {
  std::fprintf(stderr, "%s\n", ex.what());
  return 1;
}
