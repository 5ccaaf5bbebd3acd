// The chart sections of the HTML training report: each turns runs into svg::LineChart or
// svg::Heatmap figures, one colour per run (per layer in the expert charts).
#include "train/report_charts.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <sstream>

#include "train/report_svg.h"

namespace lory {
namespace {

using svg::escape;

std::string missing(const std::string& html) {
  return "<p class=\"missing\">" + html + "</p>\n";
}

std::string figure(const std::string& chart, const std::string& caption = "") {
  return "<figure>" + chart + (caption.empty() ? "" : "<figcaption>" + caption + "</figcaption>") +
         "</figure>\n";
}

// One swatch per run with evaluations, above the perplexity charts (they carry no legend).
std::string eval_legend(const std::vector<RunData>& runs) {
  std::string s = "<p class=\"legend\">";
  for (size_t i = 0; i < runs.size(); ++i)
    if (!runs[i].evals.empty())
      s += "<span><span class=\"swatch\" style=\"background:" + svg::palette(i) + "\"></span>" +
           escape(runs[i].name) + "</span>";
  return s + "</p>\n";
}

bool is_lory(const RunData& r) {
  if (r.ffn() == "lory") return true;
  return std::any_of(r.train.begin(), r.train.end(),
                     [](const TrainRecord& t) { return !t.routing.empty(); });
}

// Dashed vertical lines at each run's upcycling step, in the run's colour.
std::vector<svg::RefLine> upcycle_lines(const std::vector<RunData>& runs, bool labels) {
  std::vector<svg::RefLine> lines;
  for (size_t i = 0; i < runs.size(); ++i)
    for (int64_t step : runs[i].event_steps("upcycle"))
      lines.push_back({static_cast<double>(step), labels ? "upcycle: " + runs[i].name : "",
                       svg::palette(i), true});
  return lines;
}

// A series of one run over its training records, y taken by `get`.
svg::Series train_series(const RunData& r, size_t i,
                         const std::function<double(const TrainRecord&)>& get) {
  svg::Series s{r.name, {}, {}, svg::palette(i)};
  for (const TrainRecord& t : r.train) {
    s.x.push_back(static_cast<double>(t.step));
    s.y.push_back(get(t));
  }
  return s;
}

}  // namespace

std::string loss_section(const std::vector<RunData>& runs) {
  std::ostringstream o;
  o << "<section id=\"loss\"><h2>Training loss</h2>\n";
  svg::LineChart c{"Training loss vs step", "step", "loss (nats/token)"};
  c.log_y = true;
  c.width = 1180, c.height = 380;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].train.empty())
      o << missing(escape(runs[i].name) + ": no training records (metrics.jsonl " +
                   (runs[i].has_metrics ? "has no loss lines)" : "missing)"));
    else
      c.series.push_back(train_series(runs[i], i, [](const TrainRecord& t) { return t.loss; }));
  }
  c.lines = upcycle_lines(runs, true);
  o << figure(svg::line_chart(c),
              "Loss at each logged step: cross-entropy plus any auxiliary loss. A dashed vertical "
              "line marks where a run's dense warm-up model was upcycled into experts.");
  o << "</section>\n";
  return o.str();
}

std::string perplexity_section(const std::vector<RunData>& runs) {
  std::ostringstream o;
  o << "<section id=\"ppl\"><h2>Validation perplexity per domain</h2>\n";
  std::set<std::string> domains;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].evals.empty())
      o << missing(escape(runs[i].name) + ": no evaluation records " +
                   (runs[i].has_metrics ? "in metrics.jsonl" : "(metrics.jsonl missing)"));
    bool fallback = false;
    for (const EvalRecord& e : runs[i].evals)
      for (const auto& [d, v] : e.domains) {
        domains.insert(d);
        fallback = fallback || (!std::isfinite(v.ppl_after_T) && std::isfinite(v.ppl));
      }
    if (fallback)
      o << missing(escape(runs[i].name) +
                   ": some evaluations lack ppl_after_T; ppl is shown there");
  }
  if (domains.empty()) return o.str() + "</section>\n";
  o << eval_legend(runs) << "<div class=\"grid\">\n";
  for (const std::string& d : domains) {
    svg::LineChart c{d, "step", "ppl after T"};
    c.log_y = true, c.legend = false;
    c.width = 384, c.height = 260;
    for (size_t i = 0; i < runs.size(); ++i) {
      svg::Series s{runs[i].name, {}, {}, svg::palette(i), true};
      for (const EvalRecord& e : runs[i].evals) {
        auto it = e.domains.find(d);
        if (it == e.domains.end()) continue;
        s.x.push_back(static_cast<double>(e.step));
        s.y.push_back(std::isfinite(it->second.ppl_after_T) ? it->second.ppl_after_T
                                                            : it->second.ppl);
      }
      if (!s.x.empty()) c.series.push_back(s);
    }
    c.lines = upcycle_lines(runs, false);
    o << figure(svg::line_chart(c));
  }
  o << "</div>\n<p class=\"sub\">Perplexity of held-out documents of each domain, counting the "
    << "tokens after the first segment (positions ≥ T) only.</p></section>\n";
  return o.str();
}

std::string schedule_section(const std::vector<RunData>& runs) {
  std::ostringstream o;
  o << "<section id=\"schedule\"><h2>Learning rate and throughput</h2>\n";
  svg::LineChart lr{"Learning rate vs step", "step", "learning rate"};
  svg::LineChart tp{"Throughput vs step", "step", "tokens / s"};
  for (svg::LineChart* c : {&lr, &tp}) c->y_zero = true, c->width = 584, c->height = 300;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& r = runs[i];
    if (!r.train.empty())
      lr.series.push_back(train_series(r, i, [](const TrainRecord& t) { return t.lr; }));
    if (r.timing.empty()) {
      o << missing(escape(r.name) + ": " +
                   (r.has_timing ? "timing.jsonl is empty" : "timing.jsonl missing"));
      continue;
    }
    svg::Series s{r.name, {}, {}, svg::palette(i)};
    for (const TimingRecord& t : r.timing) {
      s.x.push_back(static_cast<double>(t.step));
      s.y.push_back(t.tokens_per_s);
    }
    tp.series.push_back(s);
  }
  o << "<div class=\"grid\">" << figure(svg::line_chart(lr)) << figure(svg::line_chart(tp))
    << "</div>\n</section>\n";
  return o.str();
}

std::string experts_section(const std::vector<RunData>& runs) {
  std::ostringstream o;
  o << "<section id=\"experts\"><h2>Expert utilisation (Lory runs)</h2>\n";
  bool any = false;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& r = runs[i];
    if (!is_lory(r)) continue;
    any = true;
    size_t layers = 0;
    double E = r.config_number("n_experts");
    for (const TrainRecord& t : r.train) {
      layers = std::max(layers, t.routing.size());
      for (const LayerRouting& l : t.routing)
        if (!std::isfinite(E) && !l.mean_weight.empty())
          E = static_cast<double>(l.mean_weight.size());
    }
    if (layers == 0) {
      o << missing(escape(r.name) + ": no routing statistics in metrics.jsonl");
      continue;
    }
    svg::LineChart act{"Activated experts per layer · " + r.name, "step", "experts above 2/E"};
    svg::LineChart ent{"Routing entropy per layer · " + r.name, "step", "entropy (nats)"};
    for (svg::LineChart* c : {&act, &ent}) c->y_zero = true, c->width = 584, c->height = 300;
    for (size_t l = 0; l < layers; ++l) {
      auto get = [l](const TrainRecord& t, bool entropy) {
        if (l >= t.routing.size()) return kAbsent;
        return entropy ? t.routing[l].entropy : t.routing[l].activated;
      };
      for (bool entropy : {false, true}) {
        svg::Series s = train_series(r, l, [&](const TrainRecord& t) { return get(t, entropy); });
        s.label = "layer " + std::to_string(l);
        (entropy ? ent : act).series.push_back(s);
      }
    }
    if (std::isfinite(E)) {
      act.lines.push_back({E, "E = " + svg::format_number(E), "#777", false});
      ent.lines.push_back(
          {std::log(E), "uniform: ln E = " + svg::format_number(std::log(E)), "#777", false});
    }
    o << "<div class=\"grid\">" << figure(svg::line_chart(act)) << figure(svg::line_chart(ent))
      << "</div>\n";
  }
  if (!any)
    return o.str() +
           missing("No Lory run among these; expert utilisation applies to Lory layers.") +
           "</section>\n";
  o << "<p class=\"sub\">Activated: experts whose routing weight exceeds 2/E for at least one "
    << "segment. Entropy of the segment routing distribution, averaged over segments; ln E means "
    << "uniform routing.</p></section>\n";
  return o.str();
}

std::string routing_section(const std::vector<RunData>& runs) {
  std::ostringstream o;
  o << "<section id=\"routing\"><h2>Routing by domain</h2>\n";
  bool any = false;
  for (const RunData& r : runs) {
    if (!r.routing) {
      if (is_lory(r))
        o << missing(escape(r.name) +
                     ": no routing.json (write it with <code>lory routing</code>)");
      continue;
    }
    any = true;
    const RoutingAnalysis& a = *r.routing;
    o << "<h3>" << escape(r.name) << "</h3>\n<div class=\"grid\">\n";
    std::vector<std::string> domains = a.domains;
    for (const RoutingLayer& l : a.layers)  // domains with weights but absent from the list
      for (const auto& kv : l.weights)
        if (std::find(domains.begin(), domains.end(), kv.first) == domains.end())
          domains.push_back(kv.first);
    for (const RoutingLayer& l : a.layers) {
      svg::Heatmap m{"layer " + std::to_string(l.layer), "domain", "expert"};
      for (int64_t e = 0; e < a.experts; ++e) m.cols.push_back("e" + std::to_string(e));
      for (const std::string& d : domains) {
        m.rows.push_back(d);
        auto it = l.weights.find(d);
        m.values.push_back(it != l.weights.end() ? it->second
                                                 : std::vector<double>(a.experts, kAbsent));
      }
      o << figure(svg::heatmap(m), "Layer " + std::to_string(l.layer) +
                                       ": Jensen–Shannon divergence between domains " +
                                       svg::format_number(l.js_divergence, 3));
    }
    o << "</div>\n";
  }
  if (!any) return o.str() + missing("No run has a routing.json.") + "</section>\n";
  o << "<p class=\"sub\">Mean routing weight of each expert over the segments of each domain "
    << "(a row sums to 1). Colour scale per layer, from its smallest to its largest weight. A "
    << "larger Jensen–Shannon divergence means more domain-specialised experts.</p></section>\n";
  return o.str();
}

}  // namespace lory
