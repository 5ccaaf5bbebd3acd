// Per-domain routing analysis (LORY.md §6, the paper's Fig. 6): the mean routing weight of every
// (layer, expert, domain) on held-out text, and a specialisation score per layer — the
// Jensen-Shannon divergence between the domains' mean routing distributions.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/evaluate.h"

namespace lory {

struct LayerRouting {
  std::map<std::string, std::vector<double>> weights;  // domain -> (E) mean routing weights
  double js_divergence = 0;  // generalised JSD (nats) of the domains' distributions, equal weights
};

struct RoutingAnalysis {
  int64_t experts = 0;
  std::vector<std::string> domains;
  std::vector<LayerRouting> layers;
  nlohmann::json to_json() const;
};

// Runs the model over up to options.max_batches batches of every domain of `valid` with causal
// segment routing and averages the routing weights each Lory layer records. Throws when the model
// has no Lory layer.
RoutingAnalysis analyse_routing(Transformer& model, const ShardData& valid, const EvalOptions& options);

// Generalised Jensen-Shannon divergence H(mean_d P_d) - mean_d H(P_d) (nats).
double js_divergence(const std::vector<std::vector<double>>& distributions);

}  // namespace lory
