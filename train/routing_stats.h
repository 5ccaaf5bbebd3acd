// Routing statistics of Lory layers (LORY.md §6): mean weight per expert, entropy of the routing
// distribution, and how many experts are "activated" (weight > 2/E for some segment).
#pragma once
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"

namespace lory {

struct RoutingStats {
  std::vector<double> mean_weight;  // (E) averaged over segments
  double entropy = 0;               // mean over segments of -Σ_i ê_i log ê_i (nats)
  int activated = 0;                // experts with ê_i > 2/E in at least one segment
};

// weights (B,N,E) as recorded by a Lory layer.
RoutingStats routing_stats(const Tensor& weights);
nlohmann::json to_json(const RoutingStats& s);

}  // namespace lory
