// lory report: one self-contained HTML file with the curves, routing and tables of some runs.
#include <cstdio>

#include "apps/args.h"
#include "apps/commands.h"
#include "core/error.h"
#include "train/report.h"

namespace lory::cli {

int cmd_report(int argc, char** argv) {
  Args a("lory report RUN_DIR [RUN_DIR ...] [--out FILE]",
         "Writes one HTML file (inline SVG, no network) with training and per-domain validation "
         "curves, learning rate, tokens/s, expert utilisation and per-layer domain x expert "
         "routing heatmaps (from <run>/routing.json) of the given runs, side by side.",
         {{"out", "FILE", "the HTML file (default: <first run>/report.html)", ""},
          {"title", "TEXT", "page title", "lory.cpp training report"}});
  if (!a.parse(argc, argv, 0)) return 0;
  LORY_CHECK(!a.positional().empty(), "no run directory given (see --help)");
  ReportOptions o;
  o.runs = a.positional();
  o.out = a.flag("out") ? a.get("out") : o.runs.front() + "/report.html";
  o.title = a.get("title");
  std::printf("report: %s\n", write_report(o).c_str());
  return 0;
}

}  // namespace lory::cli
