// Reading a training run directory: config.json, metrics.jsonl, timing.jsonl, routing.json.
// Every field is checked; errors name the file and line ("runs/a/metrics.jsonl:12: ...").
#include "train/run_data.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "core/json_reader.h"

namespace fs = std::filesystem;

namespace lory {
namespace {

using json = nlohmann::json;

std::string short_dump(const json& j) {
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// A number field: NaN when absent or null; any other non-number is an error at `where`.
double number(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return kAbsent;
  LORY_CHECK(it->is_number(), where, ": key '", key, "' is ", short_dump(*it),
             "; expected a number");
  return it->get<double>();
}

int64_t step_of(const json& j, const std::string& where) {
  auto it = j.find("step");
  LORY_CHECK(it != j.end(), where, ": key 'step' is missing; expected an integer step");
  LORY_CHECK(it->is_number_integer(), where, ": key 'step' is ", short_dump(*it),
             "; expected an integer step");
  return it->get<int64_t>();
}

std::vector<double> numbers(const json& j, const std::string& what, const std::string& where) {
  LORY_CHECK(j.is_array(), where, ": ", what, " is ", short_dump(j),
             "; expected an array of numbers");
  std::vector<double> out;
  for (const json& v : j) {
    LORY_CHECK(v.is_number(), where, ": ", what, " holds ", short_dump(v), "; expected numbers");
    out.push_back(v.get<double>());
  }
  return out;
}

const json& object_at(const json& j, const std::string& what, const std::string& where) {
  LORY_CHECK(j.is_object(), where, ": ", what, " is ", short_dump(j), "; expected an object {...}");
  return j;
}

// A resumed run repeats the steps after its checkpoint: later lines replace earlier ones.
template <typename Record>
void append(std::vector<Record>& records, Record r) {
  while (!records.empty() && records.back().step >= r.step) records.pop_back();
  records.push_back(std::move(r));
}

// Calls fn(record, "<path>:<line>") for every non-blank line of a JSON Lines file.
void for_each_line(const std::string& path, RunData& run,
                   const std::function<void(const json&, const std::string&)>& fn) {
  std::ifstream in(path, std::ios::binary);
  LORY_CHECK(in.good(), "cannot open '", path, "' for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  size_t begin = 0;
  for (int line = 1; begin < text.size(); ++line) {
    size_t end = text.find('\n', begin);
    const bool complete = end != std::string::npos;
    if (!complete) end = text.size();
    const std::string content = text.substr(begin, end - begin);
    begin = end + 1;
    if (content.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line);
    json j;
    try {
      j = json::parse(content);
    } catch (const json::parse_error& e) {
      if (!complete) {  // the writer was interrupted (or is still writing) this line
        run.notes.push_back(where + ": incomplete last line skipped");
        return;
      }
      LORY_FAIL(where, ": not valid JSON (", e.what(), "): ", content.substr(0, 60));
    }
    object_at(j, "the line", where);
    fn(j, where);
  }
}

LayerRouting parse_layer_routing(const json& j, const std::string& where) {
  object_at(j, "a 'routing' entry", where);
  LayerRouting r;
  if (j.contains("mean_weight")) r.mean_weight = numbers(j["mean_weight"], "'mean_weight'", where);
  r.entropy = number(j, "entropy", where);
  r.activated = number(j, "activated", where);
  return r;
}

void parse_metrics_line(const json& j, const std::string& where, RunData& run) {
  const int64_t step = step_of(j, where);
  if (j.contains("event")) {
    LORY_CHECK(j["event"].is_string(), where, ": key 'event' is ", short_dump(j["event"]),
               "; expected a string such as \"upcycle\"");
    run.events.emplace_back(step, j["event"].get<std::string>());
  } else if (j.contains("eval")) {
    EvalRecord r;
    r.step = step;
    for (const auto& [domain, s] : object_at(j["eval"], "'eval'", where).items()) {
      object_at(s, "'eval." + domain + "'", where);
      DomainEval d;
      d.loss = number(s, "loss", where);
      d.ppl = number(s, "ppl", where);
      d.loss_after_T = number(s, "loss_after_T", where);
      d.ppl_after_T = number(s, "ppl_after_T", where);
      d.tokens = number(s, "tokens", where);
      r.domains[domain] = d;
    }
    append(run.evals, std::move(r));
  } else if (j.contains("loss")) {
    TrainRecord r;
    r.step = step;
    r.loss = number(j, "loss", where);
    r.ce = number(j, "ce", where);
    r.lr = number(j, "lr", where);
    r.grad_norm = number(j, "grad_norm", where);
    r.aux = number(j, "aux", where);
    r.tokens = number(j, "tokens", where);
    if (j.contains("phase")) {
      LORY_CHECK(j["phase"].is_string(), where, ": key 'phase' is ", short_dump(j["phase"]),
                 "; expected \"dense\" or \"main\"");
      r.phase = j["phase"].get<std::string>();
    }
    if (j.contains("routing")) {
      LORY_CHECK(j["routing"].is_array(), where, ": key 'routing' is ", short_dump(j["routing"]),
                 "; expected an array with one object per Lory layer");
      for (const json& layer : j["routing"]) r.routing.push_back(parse_layer_routing(layer, where));
    }
    append(run.train, std::move(r));
  } else {
    LORY_FAIL(where, ": a line with none of 'loss', 'event' or 'eval'; expected a training, ",
              "event or evaluation record");
  }
}

void parse_timing_line(const json& j, const std::string& where, RunData& run) {
  TimingRecord r;
  r.step = step_of(j, where);
  r.tokens_per_s = number(j, "tokens_per_s", where);
  r.elapsed_s = number(j, "elapsed_s", where);
  r.live_bytes = number(j, "live_bytes", where);
  r.peak_bytes = number(j, "peak_bytes", where);
  append(run.timing, r);
}

RoutingAnalysis parse_routing(const json& j, const std::string& path) {
  object_at(j, "the file", path);
  RoutingAnalysis a;
  const double experts = number(j, "experts", path);
  LORY_CHECK(experts >= 1, path, ": key 'experts' is ", short_dump(j.value("experts", json())),
             "; expected the number of experts (>= 1)");
  a.experts = static_cast<int64_t>(experts);
  LORY_CHECK(j.contains("domains") && j["domains"].is_array(), path,
             ": key 'domains' is missing or not an array; expected [\"code\", ...]");
  for (const json& d : j["domains"]) {
    LORY_CHECK(d.is_string(), path, ": 'domains' holds ", short_dump(d), "; expected strings");
    a.domains.push_back(d.get<std::string>());
  }
  LORY_CHECK(j.contains("layers") && j["layers"].is_array(), path,
             ": key 'layers' is missing or not an array; expected one object per Lory layer");
  for (size_t i = 0; i < j["layers"].size(); ++i) {
    const std::string where = path + ": layers[" + std::to_string(i) + "]";
    const json& l = object_at(j["layers"][i], "the entry", where);
    RoutingLayer layer;
    const double index = number(l, "layer", where);
    layer.layer = std::isnan(index) ? static_cast<int64_t>(i) : static_cast<int64_t>(index);
    layer.js_divergence = number(l, "js_divergence", where);
    if (l.contains("weights"))
      for (const auto& [domain, w] : object_at(l["weights"], "'weights'", where).items()) {
        layer.weights[domain] = numbers(w, "'weights." + domain + "'", where);
        LORY_CHECK(static_cast<int64_t>(layer.weights[domain].size()) == a.experts, where,
                   ": 'weights.", domain, "' has ", layer.weights[domain].size(),
                   " values; expected one per expert (", a.experts, ")");
      }
    a.layers.push_back(std::move(layer));
  }
  return a;
}

}  // namespace

std::string RunData::ffn() const {
  if (!config.is_object() || !config.contains("model") || !config["model"].is_object()) return "";
  const json& m = config["model"];
  return m.contains("ffn") && m["ffn"].is_string() ? m["ffn"].get<std::string>() : "";
}

double RunData::config_number(const std::string& key, bool model) const {
  if (!config.is_object()) return kAbsent;
  const json* o = &config;
  if (model) {
    if (!config.contains("model") || !config["model"].is_object()) return kAbsent;
    o = &config["model"];
  }
  auto it = o->find(key);
  return it != o->end() && it->is_number() ? it->get<double>() : kAbsent;
}

std::vector<int64_t> RunData::event_steps(const std::string& kind) const {
  std::vector<int64_t> steps;
  for (const auto& [step, name] : events)
    if (name == kind) steps.push_back(step);
  return steps;
}

RunData read_run(const std::string& dir) {
  LORY_CHECK(fs::is_directory(dir), "run directory '", dir,
             "' does not exist or is not a directory; expected the out_dir of a training run");
  RunData run;
  run.dir = dir;
  fs::path p = fs::absolute(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();  // "runs/a/" -> "a"
  run.name = p.filename().string();

  const fs::path config = fs::path(dir) / "config.json";
  if (fs::exists(config)) {
    run.config = read_json_file(config.string());
    object_at(run.config, "the file", config.string());
  } else {
    run.notes.push_back("config.json missing");
  }
  const fs::path metrics = fs::path(dir) / "metrics.jsonl";
  run.has_metrics = fs::exists(metrics);
  if (run.has_metrics)
    for_each_line(metrics.string(), run, [&](const json& j, const std::string& where) {
      parse_metrics_line(j, where, run);
    });
  else
    run.notes.push_back("metrics.jsonl missing");
  const fs::path timing = fs::path(dir) / "timing.jsonl";
  run.has_timing = fs::exists(timing);
  if (run.has_timing)
    for_each_line(timing.string(), run, [&](const json& j, const std::string& where) {
      parse_timing_line(j, where, run);
    });
  else
    run.notes.push_back("timing.jsonl missing");
  const fs::path routing = fs::path(dir) / "routing.json";
  if (fs::exists(routing))
    run.routing = parse_routing(read_json_file(routing.string()), routing.string());
  return run;
}

}  // namespace lory
