// Tests of the HTML training report: two fake run directories (a Lory run with routing.json and
// a dense run) become one page; absent files degrade to notes; malformed lines name file:line.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "catch_compat.h"
#include "core/error.h"
#include "train/report.h"
#include "train/report_svg.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A fresh directory under the system temp folder, removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path =
        fs::temp_directory_path() / ("lory_test_report_" + name + "_" + std::to_string(getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_file(const fs::path& path) {
  std::stringstream ss;
  ss << std::ifstream(path, std::ios::binary).rdbuf();
  return ss.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

const std::vector<std::string> kDomains = {"code", "fiction", "wiki"};

// A run of 100 steps logged every 10; Lory: dense warm-up, upcycled at step 40, E = 4, two
// layers. Final ppl_after_T per domain = base + domain index (base 50 Lory, 55 dense).
void write_run(const fs::path& dir, bool lory) {
  const int E = 4;
  json model = {{"ffn", lory ? "lory" : "dense"}, {"d_model", 64}, {"n_layers", 2}};
  if (lory) model["n_experts"] = E, model["segment_len"] = 16;
  write_file(
      dir / "config.json",
      json({{"model", model}, {"steps", 100}, {"seed", 1}, {"out_dir", dir.string()}}).dump(2));
  std::string metrics, timing;
  for (int step = 10; step <= 100; step += 10) {
    const double loss = (lory ? 6.0 : 6.1) - 0.02 * step + (lory && step > 40 ? -0.1 : 0);
    json r = {{"step", step},
              {"loss", loss},
              {"ce", loss},
              {"lr", 1e-3 * step / 100},
              {"grad_norm", 1.0},
              {"tokens", 2048 * step},
              {"phase", lory && step <= 40 ? "dense" : "main"}};
    if (lory && step > 40)
      for (int l = 0; l < 2; ++l)
        r["routing"].push_back({{"mean_weight", {0.4, 0.3, 0.2, 0.1}},
                                {"entropy", 1.2 + 0.001 * step + 0.1 * l},
                                {"activated", 2 + l}});
    metrics += r.dump() + "\n";
    if (lory && step == 40) metrics += json({{"step", 40}, {"event", "upcycle"}}).dump() + "\n";
    if (step % 50 == 0) {
      json e;
      for (size_t d = 0; d < kDomains.size(); ++d) {
        const double ppl = (lory ? 50 : 55) + static_cast<double>(d) + (step == 50 ? 20 : 0);
        e[kDomains[d]] = {{"loss", std::log(ppl + 2)},
                          {"ppl", ppl + 2},
                          {"loss_after_T", std::log(ppl)},
                          {"ppl_after_T", ppl},
                          {"tokens", 8192}};
      }
      metrics += json({{"step", step}, {"eval", e}}).dump() + "\n";
    }
    timing += json({{"step", step},
                    {"tokens_per_s", 2500.0 + step},
                    {"elapsed_s", step * 0.8},
                    {"live_bytes", 1 << 20},
                    {"peak_bytes", 3 << 20}})
                  .dump() +
              "\n";
  }
  write_file(dir / "metrics.jsonl", metrics);
  write_file(dir / "timing.jsonl", timing);
  if (!lory) return;
  json routing = {{"experts", E}, {"domains", kDomains}};
  for (int l = 0; l < 2; ++l) {
    json layer = {{"layer", l}, {"js_divergence", 0.012 + l}};
    layer["weights"] = {{"code", {0.7, 0.1, 0.1, 0.1}},
                        {"fiction", {0.1, 0.7, 0.1, 0.1}},
                        {"wiki", {0.25, 0.25, 0.25, 0.25}}};
    routing["layers"].push_back(layer);
  }
  write_file(dir / "routing.json", routing.dump(2));
}

}  // namespace

TEST_CASE("report: a Lory run and a dense run on one page", "[report]") {
  TempDir tmp("two_runs");
  write_run(tmp.path / "lory_run", true);
  write_run(tmp.path / "dense_run", false);
  lory::ReportOptions options;
  options.runs = {(tmp.path / "lory_run").string(), (tmp.path / "dense_run").string()};
  options.out = (tmp.path / "out" / "report.html").string();
  const std::string path = lory::write_report(options);
  REQUIRE(path == options.out);
  REQUIRE(fs::exists(path));
  CHECK_FALSE(fs::exists(path + ".tmp"));
  const std::string html = read_file(path);

  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("</html>") != std::string::npos);
  for (const char* tag : {"svg", "section", "figure", "table", "tr", "p"}) {
    INFO("tag <" << tag << ">");
    CHECK(count(html, std::string("<") + tag + ">") + count(html, std::string("<") + tag + " ") ==
          count(html, std::string("</") + tag + ">"));
  }
  CHECK(count(html, "<svg") >= 1 + 3 + 2 + 2 + 2);  // loss, 3 domains, lr+tokens/s, experts, maps
  for (const std::string& d : kDomains) CHECK(html.find(d) != std::string::npos);
  CHECK(html.find("lory_run") != std::string::npos);
  CHECK(html.find("dense_run") != std::string::npos);
  // Self-contained: no scripts, nothing fetched.
  CHECK(html.find("http") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  // The upcycle marker, log-scale axes, expert charts, one heatmap per layer with its JS.
  CHECK(html.find("upcycle: lory_run") != std::string::npos);
  CHECK(html.find("(log scale)") != std::string::npos);
  CHECK(html.find("Activated experts per layer · lory_run") != std::string::npos);
  CHECK(html.find("Activated experts per layer · dense_run") == std::string::npos);
  CHECK(count(html, "class=\"heatmap\"") == 2);
  CHECK(html.find("divergence between domains 0.012") != std::string::npos);
  CHECK(html.find(">0.700<") != std::string::npos);  // a heatmap cell's number
  // Final table: dense vs Lory at step 100: code 55 vs 50 -> +10.0%, wiki 57 vs 52 -> +9.6%.
  CHECK(html.find("(step 100)") != std::string::npos);
  CHECK(html.find("(+10.0%)") != std::string::npos);
  CHECK(html.find("(+9.6%)") != std::string::npos);
  CHECK(html.find("geometric mean") != std::string::npos);
  // Header: the config and progress of each run.
  CHECK(html.find("100 / 100") != std::string::npos);
  CHECK(html.find("205k") != std::string::npos);  // tokens seen
}

TEST_CASE("report: absent files are said in the page, not errors", "[report]") {
  TempDir tmp("missing");
  write_file(tmp.path / "bare" / "metrics.jsonl", "{\"step\": 10, \"loss\": 5.0}\n");
  fs::create_directories(tmp.path / "empty");
  lory::ReportOptions options;
  options.runs = {(tmp.path / "bare").string(), (tmp.path / "empty").string()};
  options.out = (tmp.path / "r.html").string();
  const std::string html = read_file(lory::write_report(options));
  CHECK(html.find("config.json missing") != std::string::npos);
  CHECK(html.find("timing.jsonl missing") != std::string::npos);
  CHECK(html.find("metrics.jsonl missing") != std::string::npos);
  CHECK(html.find("no evaluation") != std::string::npos);
  CHECK(html.find("No Lory run") != std::string::npos);
  CHECK(html.find("No run has a routing.json") != std::string::npos);
  CHECK(count(html, "<svg") == count(html, "</svg>"));

  // The default output is <first run>/report.html.
  options.out = "";
  CHECK(lory::write_report(options) == (tmp.path / "bare" / "report.html").string());
}

TEST_CASE("report: malformed files name file and line", "[report]") {
  TempDir tmp("malformed");
  const fs::path run = tmp.path / "run";
  write_run(run, true);
  lory::ReportOptions options;
  options.runs = {run.string()};
  options.out = (tmp.path / "r.html").string();
  const std::string good = "{\"step\": 10, \"loss\": 5.0}\n";

  write_file(run / "metrics.jsonl", good + good + "{\"step\": 30, \"loss\": }\n" + good);
  CHECK_THROWS_WITH(lory::write_report(options),
                    HasSubstr("metrics.jsonl:3") && HasSubstr("not valid JSON"));
  write_file(run / "metrics.jsonl", good + "{\"step\": 20, \"loss\": \"low\"}\n");
  CHECK_THROWS_WITH(lory::write_report(options), HasSubstr("metrics.jsonl:2") && HasSubstr("'loss'"));
  write_file(run / "metrics.jsonl", "\n{\"loss\": 5.0}\n");
  CHECK_THROWS_WITH(lory::write_report(options), HasSubstr("metrics.jsonl:2") && HasSubstr("'step'"));
  write_file(run / "metrics.jsonl", good + "{\"step\": 20, \"gain\": 1}\n");
  CHECK_THROWS_AS(lory::write_report(options), lory::Error);
  CHECK_FALSE(fs::exists(options.out));

  write_file(run / "metrics.jsonl", good);
  write_file(run / "timing.jsonl", "[1, 2]\n");
  CHECK_THROWS_WITH(lory::write_report(options), HasSubstr("timing.jsonl:1"));
  write_file(run / "timing.jsonl", "");
  write_file(run / "routing.json",
             R"({"experts": 4, "domains": ["code"], "layers": [{"weights": {"code": [1, 0]}}]})");
  CHECK_THROWS_WITH(lory::write_report(options), HasSubstr("routing.json") && HasSubstr("layers[0]"));

  options.runs = {(tmp.path / "nowhere").string()};
  CHECK_THROWS_WITH(lory::write_report(options), HasSubstr("nowhere"));
}

TEST_CASE("report: resumed runs and a half-written last line", "[report]") {
  TempDir tmp("resume");
  std::string metrics;
  for (int step : {10, 20, 30, 20, 30, 40})  // resumed from a checkpoint at step 10
    metrics += "{\"step\": " + std::to_string(step) + ", \"loss\": 5.0}\n";
  write_file(tmp.path / "run" / "metrics.jsonl", metrics + "{\"step\": 50, \"lo");
  const lory::RunData run = lory::read_run((tmp.path / "run").string());
  REQUIRE(run.train.size() == 4);
  CHECK(run.train[1].step == 20);
  CHECK(run.train[3].step == 40);
  CHECK(run.name == "run");
  bool noted = false;
  for (const std::string& n : run.notes)
    noted = noted || n.find("metrics.jsonl:7") != std::string::npos;
  CHECK(noted);
}

TEST_CASE("report svg: ticks, numbers, escaping", "[report]") {
  using namespace lory::svg;
  CHECK(nice_ticks(0, 97) == std::vector<double>{0, 20, 40, 60, 80, 100});
  const std::vector<double> t = nice_ticks(3.2, 5.5, 5);
  CHECK(t.front() == Approx(3.0));
  CHECK(t.back() == Approx(5.5));
  CHECK(t[1] - t[0] == Approx(0.5));
  CHECK(nice_ticks(7, 7).size() >= 2);
  CHECK(log_ticks(1, 1000) == std::vector<double>{1, 10, 100, 1000});
  CHECK(log_ticks(1, 50) == std::vector<double>{1, 2, 5, 10, 20, 50});
  for (double v : log_ticks(60, 400)) CHECK((v >= 60 && v <= 400));
  CHECK(log_ticks(60, 400).size() >= 2);
  CHECK(format_number(25300) == "25.3k");
  CHECK(format_number(0.0015) == "1.5e-3");
  CHECK(format_number(66.666) == "66.7");
  CHECK(format_number(1250) == "1250");
  CHECK(format_number(std::nan("")) == "—");
  CHECK(escape("<a href='x'>&\"") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");

  // 20000 points on a 720-pixel chart: thinned, but the one spike (y = 100) is kept, at the
  // top of the plot (y = 38 with no legend).
  LineChart big;
  big.legend = false;
  Series s{"long", {}, {}, palette(0)};
  for (int i = 0; i < 20000; ++i) s.x.push_back(i), s.y.push_back(i == 12345 ? 100 : 1 + i % 7);
  big.series.push_back(s);
  const std::string svg_text = line_chart(big);
  CHECK(svg_text.size() < 60000);
  const size_t path = svg_text.find("<path d=\"");
  REQUIRE(path != std::string::npos);
  CHECK(svg_text.substr(path, svg_text.find('"', path + 9) - path).find(" 38.0") !=
        std::string::npos);

  LineChart c;
  c.title = "empty";
  CHECK_THAT(line_chart(c), HasSubstr("no data"));
  c.series.push_back({"neg", {0, 1}, {-1, 2}, palette(0)});
  c.log_y = true;  // a non-positive value falls back to a linear axis
  CHECK_THAT(line_chart(c), !HasSubstr("log scale"));
}
