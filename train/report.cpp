// `lory report`: the HTML page, section by section; charts come from train/report_svg.h.
#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "train/report_charts.h"
#include "train/report_svg.h"

namespace fs = std::filesystem;

namespace lory {
namespace {

using svg::escape;
using svg::format_number;

const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 1220px; margin: 24px auto; padding: 0 16px; line-height: 1.4; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px;
     border-bottom: 1px solid #ddd; padding-bottom: 4px; }
nav a { margin-right: 14px; color: #0072B2; } .sub { color: #555; font-size: 13px; }
.grid { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: flex-start; }
figure { margin: 6px 0; overflow-x: auto; max-width: 100%; }
figcaption { color: #555; font-size: 13px; max-width: 720px; }
svg { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e5e5e5; text-align: right;
         white-space: nowrap; }
th { background: #f6f6f6; } td.l, th.l { text-align: left; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
          margin-right: 6px; vertical-align: -1px; }
.legend span { margin-right: 18px; white-space: nowrap; }
.missing { color: #6b4a00; background: #fff6e0; border-left: 3px solid #E69F00;
           padding: 6px 10px; margin: 6px 0; font-size: 14px; }
.better { color: #0072B2; } .worse { color: #D55E00; } .delta { font-size: 12px; }
.notes { color: #8a5a00; font-size: 12px; text-align: left; white-space: normal; }
tr.total td { border-top: 2px solid #bbb; }
)";

std::string swatch(size_t i) {
  return "<span class=\"swatch\" style=\"background:" + svg::palette(i) + "\"></span>";
}

// Perplexities in the final table: two decimals, so the column lines up.
std::string ppl_text(double v) {
  if (!std::isfinite(v) || v >= 1e4) return format_number(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string int_or_dash(double v) {
  return std::isfinite(v) ? format_number(v, 6) : "—";
}

// The runs, their shapes and how far they got.
std::string runs_section(const std::vector<RunData>& runs) {
  std::ostringstream o;
  o << "<section id=\"runs\"><h2>Runs</h2>\n<table><tr><th class=\"l\">run</th><th>FFN</th>"
    << "<th title=\"experts\">E</th><th title=\"segment length\">T</th><th title=\"width\">D</th>"
    << "<th>layers</th><th>steps</th><th>tokens</th><th>last loss</th><th>tokens/s</th>"
    << "<th>peak memory</th><th class=\"l\">notes</th></tr>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& r = runs[i];
    const std::string ffn = r.ffn();
    const double last_step = r.train.empty() ? kAbsent : static_cast<double>(r.train.back().step);
    const double planned = r.config_number("steps", false);
    std::string steps = int_or_dash(last_step);
    if (std::isfinite(planned) && planned > 0) steps += " / " + int_or_dash(planned);
    std::vector<double> rates;
    double peak = kAbsent;
    for (const TimingRecord& t : r.timing) {
      if (std::isfinite(t.tokens_per_s)) rates.push_back(t.tokens_per_s);
      if (std::isfinite(t.peak_bytes))
        peak = std::isfinite(peak) ? std::max(peak, t.peak_bytes) : t.peak_bytes;
    }
    std::sort(rates.begin(), rates.end());
    const double median_rate = rates.empty() ? kAbsent : rates[rates.size() / 2];
    std::string notes;
    for (const std::string& n : r.notes) notes += (notes.empty() ? "" : "; ") + escape(n);
    o << "<tr><td class=\"l\" title=\"" << escape(r.dir) << "\">" << swatch(i) << "<b>"
      << escape(r.name) << "</b></td><td>" << (ffn.empty() ? "?" : escape(ffn)) << "</td><td>"
      << (ffn == "dense" ? "—" : int_or_dash(r.config_number("n_experts"))) << "</td><td>"
      << (ffn == "lory" ? int_or_dash(r.config_number("segment_len")) : "—") << "</td><td>"
      << int_or_dash(r.config_number("d_model")) << "</td><td>"
      << int_or_dash(r.config_number("n_layers")) << "</td><td>" << steps << "</td><td>"
      << format_number(r.train.empty() ? kAbsent : r.train.back().tokens) << "</td><td>"
      << format_number(r.train.empty() ? kAbsent : r.train.back().loss, 4)
      << "</td><td title=\"median\">" << format_number(median_rate) << "</td><td>"
      << (std::isfinite(peak) ? format_number(peak / (1 << 20)) + " MiB" : "—")
      << "</td><td class=\"notes\">" << notes << "</td></tr>\n";
  }
  o << "</table></section>\n";
  return o.str();
}

std::string relative(double v, double base) {
  if (!std::isfinite(v) || !std::isfinite(base) || base == 0) return "";
  const double d = (v - base) / base * 100;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", d);
  std::string s = buf;
  if (s[0] == '-') s = "−" + s.substr(1);
  const char* cls = d < -0.05 ? "better" : d > 0.05 ? "worse" : "";
  return " <span class=\"delta " + std::string(cls) + "\">(" + s + ")</span>";
}

// Per-domain perplexity at each run's last evaluation, runs side by side, with the change
// relative to the first run.
std::string final_table_section(const std::vector<RunData>& runs) {
  std::ostringstream o;
  o << "<section id=\"final\"><h2>Final validation perplexity</h2>\n";
  std::vector<const EvalRecord*> last(runs.size(), nullptr);
  std::vector<std::string> domains;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].evals.empty()) continue;
    last[i] = &runs[i].evals.back();
    for (const auto& kv : last[i]->domains)
      if (std::find(domains.begin(), domains.end(), kv.first) == domains.end())
        domains.push_back(kv.first);
  }
  for (size_t i = 0; i < runs.size(); ++i)
    if (!last[i])
      o << "<p class=\"missing\">" << escape(runs[i].name) << ": no evaluation records "
        << (runs[i].has_metrics ? "in metrics.jsonl" : "(metrics.jsonl missing)") << "</p>\n";
  if (domains.empty()) return o.str() + "</section>\n";
  std::sort(domains.begin(), domains.end());

  o << "<table><tr><th class=\"l\" rowspan=\"2\">domain</th>";
  for (size_t i = 0; i < runs.size(); ++i)
    o << "<th colspan=\"2\">" << swatch(i) << escape(runs[i].name)
      << (last[i] ? " <small>(step " + std::to_string(last[i]->step) + ")</small>" : "") << "</th>";
  o << "</tr>\n<tr>";
  for (size_t i = 0; i < runs.size(); ++i) o << "<th>ppl</th><th>ppl after T</th>";
  o << "</tr>\n";
  // Values per domain (rows) and run; NaN where a run lacks the domain.
  auto value = [&](size_t i, const std::string& d, bool after_T) {
    if (!last[i] || !last[i]->domains.count(d)) return kAbsent;
    const DomainEval& e = last[i]->domains.at(d);
    return after_T ? e.ppl_after_T : e.ppl;
  };
  std::vector<std::string> rows = domains;
  rows.push_back("");  // the geometric-mean row
  for (const std::string& d : rows) {
    o << (d.empty() ? "<tr class=\"total\">" : "<tr>") << "<td class=\"l\">"
      << (d.empty() ? "<b>geometric mean</b>" : escape(d)) << "</td>";
    for (size_t i = 0; i < runs.size(); ++i)
      for (bool after_T : {false, true}) {
        auto cell = [&](size_t k) {
          if (!d.empty()) return value(k, d, after_T);
          double sum = 0;  // geometric mean over all domains; NaN if the run lacks one
          for (const std::string& dd : domains) sum += std::log(value(k, dd, after_T));
          return std::exp(sum / domains.size());
        };
        o << "<td>" << ppl_text(cell(i)) << (i > 0 ? relative(cell(i), cell(0)) : "") << "</td>";
      }
    o << "</tr>\n";
  }
  o << "</table>\n<p class=\"sub\">ppl after T: perplexity of the tokens after the first segment "
    << "(positions ≥ T), the fair comparison for Lory models (the first segment routes on "
    << "itself). Relative differences are against <b>" << escape(runs[0].name)
    << "</b>; lower is better.</p></section>\n";
  return o.str();
}

}  // namespace

std::string render_report(const std::vector<RunData>& runs, const std::string& title) {
  LORY_CHECK(!runs.empty(), "report: no runs given; expected at least one run directory");
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
    << escape(title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>"
    << escape(title) << "</h1>\n<p class=\"sub\">";
  for (size_t i = 0; i < runs.size(); ++i)
    o << (i ? ", " : "") << "<code>" << escape(runs[i].dir) << "</code>";
  o << "</p>\n<nav><a href=\"#runs\">runs</a><a href=\"#loss\">loss</a><a href=\"#ppl\">"
    << "perplexity</a><a href=\"#schedule\">learning rate &amp; throughput</a><a href=\"#experts\">"
    << "experts</a><a href=\"#routing\">routing</a><a href=\"#final\">final table</a></nav>\n";
  o << runs_section(runs) << loss_section(runs) << perplexity_section(runs)
    << schedule_section(runs) << experts_section(runs) << routing_section(runs)
    << final_table_section(runs);
  o << "</body>\n</html>\n";
  return o.str();
}

std::string write_report(const ReportOptions& options) {
  LORY_CHECK(!options.runs.empty(), "report: no runs given; expected at least one run directory");
  std::vector<RunData> runs;
  for (const std::string& dir : options.runs) runs.push_back(read_run(dir));
  const std::string html = render_report(runs, options.title);

  const fs::path out =
      options.out.empty() ? fs::path(options.runs[0]) / "report.html" : fs::path(options.out);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  const std::string tmp = out.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    LORY_CHECK(f.good(), "report: cannot open '", tmp, "' for writing");
    f << html;
    f.flush();
    LORY_CHECK(f.good(), "report: writing '", tmp, "' failed (disk full?)");
  }
  fs::rename(tmp, out);
  return out.string();
}

}  // namespace lory
