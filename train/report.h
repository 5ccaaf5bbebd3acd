// `lory report`: one self-contained HTML file (inline SVG; no scripts, no network) summarising
// training runs side by side: configs, training loss, per-domain validation perplexity, learning
// rate, throughput, expert utilisation, routing heatmaps and a final perplexity table.
#pragma once
#include <string>
#include <vector>

#include "train/run_data.h"

namespace lory {

struct ReportOptions {
  std::vector<std::string> runs;  // run directories (train/trainer.h); the first is the baseline
  std::string out;                // the HTML file; "" : <first run>/report.html
  std::string title = "lory.cpp training report";
};

// Reads each run directory and writes the HTML to options.out (temporary name, then rename).
// Returns the path written. Absent files are reported in the page; malformed ones throw
// lory::Error naming file:line.
std::string write_report(const ReportOptions& options);

// The page itself, from runs already read.
std::string render_report(const std::vector<RunData>& runs, const std::string& title);

}  // namespace lory
