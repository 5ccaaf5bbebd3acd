// The chart sections of the HTML training report (train/report.h): loss, per-domain perplexity,
// learning rate and throughput, expert utilisation and routing heatmaps. Each returns a
// <section> that says what is missing when the runs lack the data.
#pragma once
#include <string>
#include <vector>

#include "train/run_data.h"

namespace lory {

std::string loss_section(const std::vector<RunData>& runs);
std::string perplexity_section(const std::vector<RunData>& runs);
std::string schedule_section(const std::vector<RunData>& runs);  // learning rate, tokens/s
std::string experts_section(const std::vector<RunData>& runs);   // Lory routing over time
std::string routing_section(const std::vector<RunData>& runs);   // routing.json heatmaps

}  // namespace lory
