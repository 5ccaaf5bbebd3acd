// A small command-line parser for the lory subcommands: `--key value`, `--flag`, positionals.
// Unknown options are errors with a "did you mean" hint; every option is listed in --help.
#pragma once
#include <climits>
#include <map>
#include <string>
#include <vector>

namespace lory::cli {

struct Option {
  std::string name;      // without the leading "--"
  std::string value;     // metavariable for options that take a value; "" for flags
  std::string help;
  std::string fallback;  // default shown in --help ("" : none / required)
};

class Args {
 public:
  // usage: "lory train --config FILE [--resume]"; summary: one sentence.
  Args(std::string usage, std::string summary, std::vector<Option> options);
  // Parses argv[first..]; returns false when --help was given (help already printed).
  bool parse(int argc, char** argv, int first);

  bool flag(const std::string& name) const;
  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;  // the value, the default, or an error
  // Numbers, or an error that names the option, its value and what was expected. The ranged
  // forms also require min <= value <= max (above_min: min < value).
  long long get_int(const std::string& name) const;
  long long get_int(const std::string& name, long long min, long long max = LLONG_MAX) const;
  double get_double(const std::string& name) const;
  double get_double(const std::string& name, double min, double max, bool above_min = false) const;
  const std::vector<std::string>& positional() const { return positional_; }
  std::string help() const;

 private:
  const Option* find(const std::string& name) const;
  std::string usage_, summary_;
  std::vector<Option> options_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace lory::cli
