// Reading a training run directory (as train/trainer.h writes it) for reports and comparisons:
// config.json, metrics.jsonl, timing.jsonl and the optional routing.json of `lory routing`.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lory {

// Absent numbers are NaN, so charts and tables can leave gaps.
inline constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();

struct LayerRouting {               // one Lory layer at one logged step
  std::vector<double> mean_weight;  // (E)
  double entropy = kAbsent;         // nats
  double activated = kAbsent;       // experts above 2/E in some segment
};

struct TrainRecord {  // {"step", "loss", "ce", "lr", "grad_norm", "tokens", "phase", ...}
  int64_t step = 0;
  double loss = kAbsent, ce = kAbsent, lr = kAbsent, grad_norm = kAbsent, aux = kAbsent;
  double tokens = kAbsent;            // seen so far
  std::string phase;                  // "dense" before upcycling, "main" after ("" when absent)
  std::vector<LayerRouting> routing;  // one per Lory layer (empty when absent)
};

struct DomainEval {
  double loss = kAbsent, ppl = kAbsent, loss_after_T = kAbsent, ppl_after_T = kAbsent;
  double tokens = kAbsent;
};

struct EvalRecord {  // {"step", "eval": {"<domain>": {...}}}
  int64_t step = 0;
  std::map<std::string, DomainEval> domains;
};

struct TimingRecord {  // timing.jsonl
  int64_t step = 0;
  double tokens_per_s = kAbsent, elapsed_s = kAbsent, live_bytes = kAbsent, peak_bytes = kAbsent;
};

struct RoutingLayer {
  int64_t layer = 0;
  std::map<std::string, std::vector<double>> weights;  // domain -> (E) mean routing weights
  double js_divergence = kAbsent;
};

struct RoutingAnalysis {  // routing.json
  int64_t experts = 0;
  std::vector<std::string> domains;
  std::vector<RoutingLayer> layers;
};

struct RunData {
  std::string name;  // the directory's name
  std::string dir;
  nlohmann::json config;  // null when config.json is absent
  std::vector<TrainRecord> train;
  std::vector<EvalRecord> evals;
  std::vector<TimingRecord> timing;
  std::vector<std::pair<int64_t, std::string>> events;  // (step, "upcycle"), ...
  std::optional<RoutingAnalysis> routing;
  std::vector<std::string> notes;  // absent files and skipped lines, in words, for the reader
  bool has_metrics = false, has_timing = false;

  // From config.json's "model": "lory", "dense", "topk" or "" when unknown.
  std::string ffn() const;
  // A number from config.json's "model" (or the top level with model = false); NaN when absent.
  double config_number(const std::string& key, bool model = true) const;
  std::vector<int64_t> event_steps(const std::string& kind) const;
};

// Reads every file that is present. Absent files are noted in RunData::notes; a malformed line or
// field throws lory::Error naming "<file>:<line>" and what was expected. A last line without its
// newline that does not parse (the trainer was writing it) is skipped with a note.
RunData read_run(const std::string& dir);

}  // namespace lory
