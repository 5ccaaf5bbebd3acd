// SVG plotting primitives for the HTML training report: ticks, number formats and line charts,
// written as strings of inline SVG.
#include "train/report_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace lory::svg {
namespace {

// "1.50e-03" -> "1.5e-3": scientific notation without padding zeros.
std::string trim_scientific(const char* s) {
  std::string str(s);
  size_t e = str.find('e');
  std::string mant = str.substr(0, e), expo = str.substr(e + 1);
  if (mant.find('.') != std::string::npos) {
    while (mant.back() == '0') mant.pop_back();
    if (mant.back() == '.') mant.pop_back();
  }
  bool neg = expo[0] == '-';
  expo = expo.substr(1);
  while (expo.size() > 1 && expo[0] == '0') expo.erase(0, 1);
  return mant + "e" + (neg ? "-" : "") + expo;
}

// A tick label whose precision follows the tick spacing (0.5, 1.0, 1.5 -> "0.5", "1", "1.5").
// `top`, the largest |tick| of the axis, picks one unit for all of them (5k, 10k; not 5000, 10k).
std::string format_tick(double v, double step, double top) {
  if (std::fabs(v) < step * 1e-6) return "0";
  char buf[48];
  if (top >= 1e4) {
    const double div = top >= 1e9 ? 1e9 : top >= 1e6 ? 1e6 : 1e3;
    const char* suffix = top >= 1e9 ? "G" : top >= 1e6 ? "M" : "k";
    int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step / div) - 1e-9)));
    std::snprintf(buf, sizeof buf, "%.*f%s", std::min(decimals, 3), v / div, suffix);
    return buf;
  }
  if (step < 1e-2) {
    std::snprintf(buf, sizeof buf, "%.3e", v);
    return trim_scientific(buf);
  }
  int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), v);
  return buf;
}

}  // namespace

std::string px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

double text_width(const std::string& s) {
  return 6.2 * static_cast<double>(s.size());
}

const std::string& palette(size_t i) {
  static const std::vector<std::string> colors = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                                  "#CC79A7", "#56B4E9", "#000000", "#F0E442"};
  return colors[i % colors.size()];
}

std::string escape(const std::string& text) {
  static const std::pair<char, const char*> entities[] = {
      {'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}, {'\'', "&#39;"}};
  std::string out;
  for (char c : text) {
    const char* entity = nullptr;
    for (const auto& [ch, name] : entities)
      if (c == ch) entity = name;
    out += entity ? std::string(entity) : std::string(1, c);
  }
  return out;
}

std::string format_number(double v, int significant) {
  if (!std::isfinite(v)) return "—";
  if (v == 0) return "0";
  char buf[48];
  const double a = std::fabs(v);
  if (a >= 1e4) {
    const double div = a >= 1e9 ? 1e9 : a >= 1e6 ? 1e6 : 1e3;
    std::snprintf(buf, sizeof buf, "%.*g%s", significant, v / div,
                  a >= 1e9   ? "G"
                  : a >= 1e6 ? "M"
                             : "k");
    return buf;
  }
  if (a < 1e-2) {
    std::snprintf(buf, sizeof buf, "%.*e", significant - 1, v);
    return trim_scientific(buf);
  }
  if (a >= std::pow(10.0, significant)) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.*g", significant, v);
  return buf;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) {  // one value: a range of ±10% (or ±1 around 0)
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
  // Step = 1, 2 or 5 × 10^k, the first at least (hi - lo) / target.
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 5.0})
    if (m * mag >= raw * 0.999) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  const double first = std::floor(lo / step + 1e-9) * step;
  for (double t = first; t < hi + step * 0.999; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  const double decades = std::log10(hi / lo);
  std::vector<double> mults = decades >= 2 ? std::vector<double>{1} : std::vector<double>{1, 2, 5};
  std::vector<double> ticks;
  if (decades >= 1) {
    for (int k = static_cast<int>(std::floor(std::log10(lo))); std::pow(10.0, k) <= hi; ++k)
      for (double m : mults) {
        const double t = m * std::pow(10.0, k);
        if (t >= lo * 0.9999 && t <= hi * 1.0001) ticks.push_back(t);
      }
  }
  if (ticks.size() < 3) {  // less than a decade: nice linear values inside the range
    ticks.clear();
    for (double t : nice_ticks(lo, hi, 6))
      if (t >= lo && t <= hi && t > 0) ticks.push_back(t);
  }
  return ticks;
}

std::string line_chart(const LineChart& c) {
  const double inf = std::numeric_limits<double>::infinity();
  double x0 = inf, x1 = -inf, y0 = inf, y1 = -inf;
  bool positive = true;
  for (const Series& s : c.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
      positive = positive && s.y[i] > 0;
    }
  std::ostringstream o;
  o << "<svg viewBox=\"0 0 " << c.width << ' ' << c.height << "\" width=\"" << c.width
    << "\" height=\"" << c.height << "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\""
    << " aria-label=\"" << escape(c.title) << "\">\n";
  o << "<text x=\"" << c.width / 2 << "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" "
    << "font-weight=\"bold\">" << escape(c.title) << "</text>\n";
  if (x0 > x1) {
    o << "<text x=\"" << c.width / 2 << "\" y=\"" << c.height / 2
      << "\" text-anchor=\"middle\" fill=\"#777\">no data</text>\n</svg>";
    return o.str();
  }
  for (const RefLine& r : c.lines)
    if (!r.vertical) y0 = std::min(y0, r.at), y1 = std::max(y1, r.at);
  if (c.y_zero) y0 = std::min(y0, 0.0), y1 = std::max(y1, 0.0);

  // Legend rows under the title, wrapped to the chart width: the series, then the labelled
  // horizontal reference lines (their label would cross the data inside the plot).
  struct Item {
    std::string label, color;
    bool dashed;
  };
  std::vector<Item> items;
  for (const Series& s : c.series) {
    bool drawn = false;  // a series with no finite point gets no legend entry
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      drawn = drawn || (std::isfinite(s.x[i]) && std::isfinite(s.y[i]));
    if (c.legend && drawn && !s.label.empty()) items.push_back({s.label, s.color, s.dashed});
  }
  for (const RefLine& r : c.lines)
    if (!r.vertical && !r.label.empty()) items.push_back({r.label, r.color, true});
  std::vector<std::vector<const Item*>> rows(1);
  double row_w = 0;
  for (const Item& item : items) {
    const double w = 26 + text_width(item.label) + 14;
    if (row_w + w > c.width - 80 && !rows.back().empty()) rows.emplace_back(), row_w = 0;
    rows.back().push_back(&item);
    row_w += w;
  }
  const int legend_rows = rows[0].empty() ? 0 : static_cast<int>(rows.size());
  const double left = 62, right = 18, top = 30 + 16 * legend_rows + 8, bottom = 42;
  const double pw = c.width - left - right, ph = c.height - top - bottom;

  // Axes: x from nice ticks; y from nice ticks (linear) or padded data range (log).
  const std::vector<double> xt = nice_ticks(x0, x1, std::max(3, static_cast<int>(pw / 90)));
  const double xlo = xt.front(), xhi = xt.back();
  const bool log = c.log_y && positive && y0 > 0;
  std::vector<double> yt;
  double ylo, yhi;
  if (log) {
    const double pad = std::max(1.02, std::pow(y1 / y0, 0.05));
    ylo = y0 / pad, yhi = y1 * pad;
    yt = log_ticks(ylo, yhi);
  } else {
    yt = nice_ticks(y0, y1, std::max(3, static_cast<int>(ph / 50)));
    ylo = yt.front(), yhi = yt.back();
  }
  auto X = [&](double x) { return left + (x - xlo) / (xhi - xlo) * pw; };
  auto Y = [&](double y) {
    const double f = log ? std::log(y / ylo) / std::log(yhi / ylo) : (y - ylo) / (yhi - ylo);
    return top + ph - f * ph;
  };

  // Legend.
  for (int r = 0; r < legend_rows; ++r) {
    double x = left;
    const double y = 30 + 16 * r;
    for (const Item* item : rows[r]) {
      o << "<line x1=\"" << px(x) << "\" y1=\"" << px(y) << "\" x2=\"" << px(x + 20) << "\" y2=\""
        << px(y) << "\" stroke=\"" << item->color << "\" stroke-width=\"2.5\""
        << (item->dashed ? " stroke-dasharray=\"5 3\"" : "") << "/>";
      o << "<text x=\"" << px(x + 26) << "\" y=\"" << px(y + 4) << "\">" << escape(item->label)
        << "</text>\n";
      x += 26 + text_width(item->label) + 14;
    }
  }
  // Grid, ticks and tick labels.
  o << "<g stroke=\"#e3e3e3\">";
  for (double t : xt)
    o << "<line x1=\"" << px(X(t)) << "\" y1=\"" << px(top) << "\" x2=\"" << px(X(t)) << "\" y2=\""
      << px(top + ph) << "\"/>";
  for (double t : yt)
    o << "<line x1=\"" << px(left) << "\" y1=\"" << px(Y(t)) << "\" x2=\"" << px(left + pw)
      << "\" y2=\"" << px(Y(t)) << "\"/>";
  o << "</g>\n<g fill=\"#444\">";
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  for (double t : xt)
    o << "<text x=\"" << px(X(t)) << "\" y=\"" << px(top + ph + 15) << "\" text-anchor=\"middle\">"
      << format_tick(t, xstep, std::max(std::fabs(xlo), std::fabs(xhi))) << "</text>";
  const double ystep = !log && yt.size() > 1 ? yt[1] - yt[0] : 0;
  for (double t : yt)
    o << "<text x=\"" << px(left - 6) << "\" y=\"" << px(Y(t) + 4) << "\" text-anchor=\"end\">"
      << (log ? format_number(t) : format_tick(t, ystep, std::max(std::fabs(ylo), std::fabs(yhi))))
      << "</text>";
  o << "</g>\n";
  o << "<rect x=\"" << px(left) << "\" y=\"" << px(top) << "\" width=\"" << px(pw) << "\" height=\""
    << px(ph) << "\" fill=\"none\" stroke=\"#999\"/>\n";
  o << "<text x=\"" << px(left + pw / 2) << "\" y=\"" << px(c.height - 6)
    << "\" text-anchor=\"middle\">" << escape(c.x_label) << "</text>\n";
  o << "<text transform=\"translate(14 " << px(top + ph / 2) << ") rotate(-90)\" "
    << "text-anchor=\"middle\">" << escape(c.y_label) << (log ? " (log scale)" : "") << "</text>\n";

  // Reference lines, then the series on top.
  int n_vertical = 0;
  for (const RefLine& r : c.lines) {
    const bool v = r.vertical;
    if (v && (r.at < xlo || r.at > xhi)) continue;
    const double x1p = v ? X(r.at) : left, x2p = v ? X(r.at) : left + pw;
    const double y1p = v ? top : Y(r.at), y2p = v ? top + ph : Y(r.at);
    o << "<line x1=\"" << px(x1p) << "\" y1=\"" << px(y1p) << "\" x2=\"" << px(x2p) << "\" y2=\""
      << px(y2p) << "\" stroke=\"" << r.color << "\" stroke-width=\"1.2\" "
      << "stroke-dasharray=\"6 4\"><title>" << escape(r.label) << "</title></line>";
    if (v && !r.label.empty())
      o << "<text x=\"" << px(x1p + 4) << "\" y=\"" << px(top + 12 + 12 * n_vertical++)
        << "\" fill=\"" << r.color << "\">" << escape(r.label) << "</text>";
    o << "\n";
  }
  // More points than pixels only bloat the file: of every k consecutive points keep the lowest
  // and the highest (in step order), so spikes survive.
  for (const Series& s : c.series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    const size_t k = std::max<size_t>(1, n / static_cast<size_t>(2 * pw));
    auto valid = [&](size_t i) {
      return std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && (!log || s.y[i] > 0);
    };
    std::string d, dots;
    bool pen_down = false;
    for (size_t j = 0; j < n; j += k) {
      size_t lo = n, hi = n;
      bool gap = false;
      for (size_t i = j; i < std::min(n, j + k); ++i) {
        if (!valid(i)) {
          gap = true;
          continue;
        }
        if (lo == n || s.y[i] < s.y[lo]) lo = i;
        if (hi == n || s.y[i] > s.y[hi]) hi = i;
      }
      if (lo != n)
        for (size_t i : {std::min(lo, hi), std::max(lo, hi)}) {
          d += (pen_down ? "L" : "M") + px(X(s.x[i])) + " " + px(Y(s.y[i]));
          pen_down = true;
          if (s.markers || n == 1)
            dots += "<circle cx=\"" + px(X(s.x[i])) + "\" cy=\"" + px(Y(s.y[i])) + "\" r=\"3\"/>";
          if (lo == hi) break;
        }
      if (gap) pen_down = false;
    }
    o << "<g stroke=\"" << s.color << "\" fill=\"" << s.color << "\"><title>" << escape(s.label)
      << "</title><path d=\"" << d << "\" fill=\"none\" stroke-width=\"1.8\""
      << (s.dashed ? " stroke-dasharray=\"5 3\"" : "") << "/>" << dots << "</g>\n";
  }
  o << "</svg>";
  return o.str();
}

}  // namespace lory::svg
