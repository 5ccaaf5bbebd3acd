// Args: parsing, typed access with clear errors, help text.
#include "apps/args.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "core/json_reader.h"

namespace lory::cli {

Args::Args(std::string usage, std::string summary, std::vector<Option> options)
    : usage_(std::move(usage)), summary_(std::move(summary)), options_(std::move(options)) {}

const Option* Args::find(const std::string& name) const {
  for (const Option& o : options_)
    if (o.name == name) return &o;
  return nullptr;
}

bool Args::parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("%s", help().c_str());
      return false;
    }
    if (a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) value = name.substr(eq + 1), name = name.substr(0, eq);
    const Option* o = find(name);
    if (!o) {
      std::vector<std::string> names;
      for (const Option& opt : options_) names.push_back(opt.name);
      std::string hint = closest_match(name, names);
      LORY_FAIL("unknown option '--", name, "'",
                hint.empty() ? "" : "; did you mean '--" + hint + "'?", " (see --help)");
    }
    if (o->value.empty()) {
      values_[name] = "1";
    } else {
      if (eq == std::string::npos) {
        LORY_CHECK(i + 1 < argc, "option '--", name, "' needs a value (", o->value, ")");
        value = argv[++i];
      }
      values_[name] = value;
    }
  }
  return true;
}

bool Args::flag(const std::string& name) const { return values_.count(name) > 0; }
bool Args::has(const std::string& name) const {
  return values_.count(name) > 0 || (find(name) && !find(name)->fallback.empty());
}

std::string Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  const Option* o = find(name);
  LORY_ASSERT(o != nullptr, "undeclared option ", name);
  LORY_CHECK(!o->fallback.empty(), "option '--", name, " ", o->value,
             "' is required (see --help)");
  return o->fallback;
}

long long Args::get_int(const std::string& name) const {
  std::string v = get(name);
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  LORY_CHECK(!v.empty() && *end == '\0', "option '--", name, "' is '", v, "'; expected an integer");
  return x;
}

long long Args::get_int(const std::string& name, long long min, long long max) const {
  const long long x = get_int(name);
  if (max >= INT_MAX) {  // no upper bound a user would meet: name the one that was crossed
    LORY_CHECK(x >= min, "option '--", name, "' is ", x, "; expected an integer >= ", min);
    LORY_CHECK(x <= max, "option '--", name, "' is ", x, "; expected an integer <= ", max);
  } else {
    LORY_CHECK(x >= min && x <= max, "option '--", name, "' is ", x, "; expected an integer in ",
               min, "..", max);
  }
  return x;
}

double Args::get_double(const std::string& name) const {
  std::string v = get(name);
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  LORY_CHECK(!v.empty() && *end == '\0', "option '--", name, "' is '", v, "'; expected a number");
  return x;
}

double Args::get_double(const std::string& name, double min, double max, bool above_min) const {
  const double x = get_double(name);
  const bool low_ok = above_min ? x > min : x >= min;
  if (std::isinf(max))
    LORY_CHECK(low_ok, "option '--", name, "' is ", get(name), "; expected a number ",
               above_min ? "> " : ">= ", min);
  else
    LORY_CHECK(low_ok && x <= max, "option '--", name, "' is ", get(name),
               "; expected a number in ", above_min ? "(" : "[", min, ", ", max, "]");
  return x;
}

std::string Args::help() const {
  std::string s = "usage: " + usage_ + "\n\n" + summary_ + "\n";
  if (!options_.empty()) s += "\noptions:\n";
  for (const Option& o : options_) {
    std::string left = "  --" + o.name + (o.value.empty() ? "" : " " + o.value);
    if (left.size() < 28)
      left.resize(28, ' ');
    else
      left += "\n" + std::string(28, ' ');
    s += left + o.help + (o.fallback.empty() ? "" : " (default: " + o.fallback + ")") + "\n";
  }
  return s;
}

}  // namespace lory::cli
