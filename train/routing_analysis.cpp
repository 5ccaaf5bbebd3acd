// Routing analysis: per-domain means of the recorded routing weights, and their divergence.
#include "train/routing_analysis.h"

#include <cmath>
#include <memory>

#include "core/autograd.h"

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
  RoutingAnalysis out;
  out.experts = model.config().n_experts;
  out.layers.resize(model.config().n_layers);
  std::map<std::string, std::vector<std::vector<double>>> sums;  // domain -> layer -> (E)
  std::map<std::string, int64_t> segments;
  for_each_domain_batch(valid, o, [&](const std::string& domain, const Batch& batch) {
    if (!sums.count(domain)) {
      out.domains.push_back(domain);
      sums[domain].assign(out.layers.size(), std::vector<double>(out.experts, 0.0));
    }
    model.forward(batch.inputs());
    std::vector<Tensor> w = model.routing_weights();  // (B,N,E) per layer
    for (size_t l = 0; l < w.size(); ++l) {
      auto v = w[l].to_vector<double>();
      for (size_t k = 0; k < v.size(); ++k) sums[domain][l][k % out.experts] += v[k];
    }
    segments[domain] += w[0].size(0) * w[0].size(1);
  });
  for (const auto& [domain, layers] : sums)
    for (size_t l = 0; l < out.layers.size(); ++l) {
      std::vector<double> mean = layers[l];
      for (double& v : mean) v /= static_cast<double>(segments[domain]);
      out.layers[l].weights[domain] = mean;
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
