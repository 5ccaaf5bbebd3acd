// Routing statistics from recorded routing weights.
#include "train/routing_stats.h"

#include <cmath>

namespace lory {

RoutingStats routing_stats(const Tensor& weights) {
  LORY_CHECK(weights.rank() == 3, "routing_stats: expected weights (B,N,E), got ", weights.str());
  const int64_t S = weights.size(0) * weights.size(1), E = weights.size(2);
  std::vector<double> w = weights.to_vector<double>();
  RoutingStats s;
  s.mean_weight.assign(E, 0.0);
  std::vector<bool> active(E, false);
  for (int64_t seg = 0; seg < S; ++seg) {
    double h = 0;
    for (int64_t i = 0; i < E; ++i) {
      const double v = w[seg * E + i];
      s.mean_weight[i] += v / static_cast<double>(S);
      if (v > 0) h -= v * std::log(v);
      if (v > 2.0 / static_cast<double>(E)) active[i] = true;
    }
    s.entropy += h / static_cast<double>(S);
  }
  for (bool a : active) s.activated += a;
  return s;
}

nlohmann::json to_json(const RoutingStats& s) {
  return {{"mean_weight", s.mean_weight}, {"entropy", s.entropy}, {"activated", s.activated}};
}

}  // namespace lory
