// Annotated heatmaps for the HTML training report (routing weight per domain and expert).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "train/report_svg.h"

namespace lory::svg {
namespace {

// Viridis, sampled at 0, 0.25, 0.5, 0.75, 1 and interpolated linearly in RGB.
std::string viridis(double t) {
  static const double stops[5][3] = {
      {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 4;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  char buf[8];
  int c[3];
  for (int k = 0; k < 3; ++k)
    c[k] = static_cast<int>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

}  // namespace

std::string heatmap(const Heatmap& m) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& row : m.values)
    for (double v : row)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(lo <= hi)) lo = 0, hi = 1;
  const double span = hi > lo ? hi - lo : 1;
  auto cell = [](double v) {  // routing weights: three decimals read well and fit a cell
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return std::isfinite(v) ? std::string(buf) : std::string("—");
  };

  double label_w = text_width(m.row_title);
  for (const auto& r : m.rows) label_w = std::max(label_w, text_width(r));
  const double cw = 46, ch = 24, left = label_w + 16, top = 50;
  const double gw = cw * m.cols.size(), gh = ch * m.rows.size();
  const double bar_x = left + gw + 16;
  const int width = static_cast<int>(bar_x + 60), height = static_cast<int>(top + gh + 12);

  std::ostringstream o;
  o << "<svg viewBox=\"0 0 " << width << ' ' << height << "\" width=\"" << width << "\" height=\""
    << height
    << "\" class=\"heatmap\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\""
    << escape(m.title) << "\">\n";
  o << "<text x=\"" << px(left) << "\" y=\"16\" font-size=\"13\" font-weight=\"bold\">"
    << escape(m.title) << "</text>\n";
  o << "<text x=\"" << px(left + gw / 2) << "\" y=\"32\" text-anchor=\"middle\" fill=\"#444\">"
    << escape(m.col_title) << "</text>";
  o << "<text x=\"" << px(left - 8) << "\" y=\"" << px(top - 6) << "\" text-anchor=\"end\" "
    << "fill=\"#444\" font-style=\"italic\">" << escape(m.row_title) << "</text>\n";
  for (size_t j = 0; j < m.cols.size(); ++j)
    o << "<text x=\"" << px(left + cw * (j + 0.5)) << "\" y=\"" << px(top - 6)
      << "\" text-anchor=\"middle\">" << escape(m.cols[j]) << "</text>";
  o << "\n";
  for (size_t i = 0; i < m.rows.size(); ++i) {
    const double y = top + ch * i;
    o << "<text x=\"" << px(left - 8) << "\" y=\"" << px(y + ch / 2 + 4)
      << "\" text-anchor=\"end\">" << escape(m.rows[i]) << "</text>";
    for (size_t j = 0; j < m.cols.size(); ++j) {
      const double v = j < m.values[i].size() ? m.values[i][j] : std::nan("");
      const double t = (v - lo) / span;
      o << "<rect x=\"" << px(left + cw * j) << "\" y=\"" << px(y) << "\" width=\"" << px(cw)
        << "\" height=\"" << px(ch) << "\" fill=\"" << (std::isfinite(v) ? viridis(t) : "#ddd")
        << "\" stroke=\"#fff\"><title>" << escape(m.rows[i]) << ", " << escape(m.cols[j]) << ": "
        << format_number(v, 4) << "</title></rect>";
      o << "<text x=\"" << px(left + cw * (j + 0.5)) << "\" y=\"" << px(y + ch / 2 + 4)
        << "\" text-anchor=\"middle\" fill=\"" << (t < 0.6 ? "#fff" : "#000") << "\">" << cell(v)
        << "</text>";
    }
    o << "\n";
  }
  // Colour bar: top = hi, bottom = lo.
  const int steps = 24;
  for (int k = 0; k < steps; ++k)
    o << "<rect x=\"" << px(bar_x) << "\" y=\"" << px(top + gh * k / steps) << "\" width=\"12\""
      << " height=\"" << px(gh / steps + 0.5) << "\" fill=\"" << viridis(1 - (k + 0.5) / steps)
      << "\"/>";
  o << "\n<text x=\"" << px(bar_x + 16) << "\" y=\"" << px(top + 9) << "\">" << cell(hi)
    << "</text><text x=\"" << px(bar_x + 16) << "\" y=\"" << px(top + gh) << "\">" << cell(lo)
    << "</text>\n</svg>";
  return o.str();
}

}  // namespace lory::svg
