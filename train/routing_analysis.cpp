// Routing analysis: per-domain means of the recorded routing weights, and their divergence.
#include "train/routing_analysis.h"

#include <cmath>
#include <memory>

#include "core/autograd.h"
#include "data/loader.h"

namespace lory {

double js_divergence(const std::vector<std::vector<double>>& p) {
  if (p.empty()) return 0;
  auto entropy = [](const std::vector<double>& q) {
    double h = 0;
    for (double v : q)
      if (v > 0) h -= v * std::log(v);
    return h;
  };
  std::vector<double> mean(p[0].size(), 0.0);
  double mean_entropy = 0;
  for (const auto& q : p) {
    for (size_t i = 0; i < q.size(); ++i) mean[i] += q[i] / static_cast<double>(p.size());
    mean_entropy += entropy(q) / static_cast<double>(p.size());
  }
  return std::max(0.0, entropy(mean) - mean_entropy);
}

RoutingAnalysis analyse_routing(Transformer& model, const ShardData& valid, const EvalOptions& o) {
  LORY_CHECK(model.config().ffn == FfnKind::lory, "routing analysis needs a Lory model; this one has ffn '",
             ffn_kind_name(model.config().ffn), "'");
  NoGradGuard no_grad;
  auto shard = std::make_shared<const ShardData>(valid);
  RoutingAnalysis out;
  out.experts = model.config().n_experts;
  out.layers.resize(model.config().n_layers);
  for (int32_t d = 0; d < static_cast<int32_t>(valid.domains.size()); ++d) {
    std::vector<int64_t> docs;
    for (int64_t i = 0; i < valid.num_docs(); ++i)
      if (valid.docs[i].domain == d) docs.push_back(i);
    if (docs.empty()) continue;
    LoaderOptions lo;
    lo.seq_len = o.seq_len;
    lo.eot = o.eot;
    lo.shuffle = false;
    Loader loader(shard, docs, lo);
    const int64_t n = std::min(loader.num_instances(), o.max_batches * o.batch_size);
    if (n == 0) continue;
    const std::string& name = valid.domains[d];
    out.domains.push_back(name);
    std::vector<std::vector<double>> sums(out.layers.size(), std::vector<double>(out.experts, 0.0));
    int64_t segments = 0;
    for (int64_t first = 0; first < n; first += o.batch_size) {
      const int64_t B = std::min(o.batch_size, n - first), L = o.seq_len;
      Tensor rows = Tensor::empty({B, L + 1}, DType::i32);
      for (int64_t b = 0; b < B; ++b) loader.instance_tokens(first + b, rows.data<int32_t>() + b * (L + 1));
      Batch batch;
      batch.tokens = rows;
      model.forward(batch.inputs());
      std::vector<Tensor> w = model.routing_weights();
      for (size_t l = 0; l < w.size(); ++l) {
        auto v = w[l].to_vector<double>();
        for (size_t k = 0; k < v.size(); ++k) sums[l][k % out.experts] += v[k];
      }
      segments += w.empty() ? 0 : w[0].size(0) * w[0].size(1);
    }
    for (size_t l = 0; l < out.layers.size(); ++l) {
      for (double& v : sums[l]) v /= static_cast<double>(segments);
      out.layers[l].weights[name] = sums[l];
    }
  }
  for (LayerRouting& layer : out.layers) {
    std::vector<std::vector<double>> dists;
    for (const auto& [domain, w] : layer.weights) dists.push_back(w);
    layer.js_divergence = js_divergence(dists);
  }
  return out;
}

nlohmann::json RoutingAnalysis::to_json() const {
  nlohmann::json j{{"experts", experts}, {"domains", domains}, {"layers", nlohmann::json::array()}};
  for (size_t l = 0; l < layers.size(); ++l)
    j["layers"].push_back({{"layer", l}, {"weights", layers[l].weights}, {"js_divergence", layers[l].js_divergence}});
  return j;
}

}  // namespace lory
