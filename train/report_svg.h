// SVG plotting primitives for the HTML training report: line charts (nice ticks, linear or log y
// axis, legend, reference lines) and annotated heatmaps (report_heatmap.cpp). Plain inline SVG:
// no scripts, no fonts.
#pragma once
#include <string>
#include <vector>

namespace lory::svg {

// The Okabe–Ito palette: eight colours told apart with the common colour-vision deficiencies.
// Index i cycles through them.
const std::string& palette(size_t i);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string escape(const std::string& text);

// Shared by the chart files: a coordinate with one decimal; the rough width in pixels of 11px
// sans-serif text (SVG cannot measure text before it is drawn).
std::string px(double v);
double text_width(const std::string& s);

// Short human form of a number: 4.21, 66.7, 1250, 25.3k, 1.5e-3; "—" for NaN/inf.
std::string format_number(double v, int significant = 3);

// "Nice" tick values (steps of 1, 2 or 5 × 10^k) from at or below lo to at or above hi, about
// `target` of them. lo == hi gives a small range around the value.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// Ticks for a log axis over [lo, hi] (0 < lo < hi): decades, 1-2-5 steps when there are few
// decades, nice linear values inside the range when it spans less than one decade.
std::vector<double> log_ticks(double lo, double hi);

struct Series {
  std::string label;
  std::vector<double> x, y;  // same length; a NaN y breaks the line
  std::string color;
  bool markers = false;  // a dot at every point (sparse series such as evaluations)
  bool dashed = false;
};

// A dashed reference line: vertical at x = at (e.g. the upcycling step) or horizontal at y = at
// (e.g. the largest possible entropy).
struct RefLine {
  double at = 0;
  std::string label, color;
  bool vertical = true;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series = {};
  std::vector<RefLine> lines = {};
  bool log_y = false;   // falls back to a linear axis when some y <= 0
  bool y_zero = false;  // linear axis: include 0 in the y range
  bool legend = true;
  int width = 720, height = 320;
};
std::string line_chart(const LineChart& chart);

// A rows × cols grid of values coloured by a sequential colour-blind-safe scale (viridis),
// the value written in each cell and a colour bar with the scale's ends.
struct Heatmap {
  std::string title, row_title, col_title;
  std::vector<std::string> rows = {}, cols = {};
  std::vector<std::vector<double>> values = {};  // [row][col]
};
std::string heatmap(const Heatmap& map);

}  // namespace lory::svg
