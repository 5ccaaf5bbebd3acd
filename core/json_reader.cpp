// JsonReader: checked config reading with "did you mean" hints; atomic JSON file writes.
#include "core/json_reader.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace lory {

JsonReader::JsonReader(const nlohmann::json& object, std::string where)
    : object_(object), where_(std::move(where)) {
  LORY_CHECK(object_.is_object(), where_, " must be a JSON object, got: ", object_.dump());
}

bool JsonReader::has(const std::string& key) const { return object_.contains(key); }

const nlohmann::json* JsonReader::find(const std::string& key) {
  known_.insert(key);
  auto it = object_.find(key);
  return it == object_.end() || it->is_null() ? nullptr : &*it;
}

int64_t JsonReader::get_int(const std::string& key, int64_t fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float() && v->get<double>() == static_cast<int64_t>(v->get<double>()))
    return static_cast<int64_t>(v->get<double>());
  LORY_FAIL(where_, ": key '", key, "' is ", v->dump(), "; expected an integer");
}

double JsonReader::get_double(const std::string& key, double fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  LORY_CHECK(v->is_number(), where_, ": key '", key, "' is ", v->dump(), "; expected a number");
  return v->get<double>();
}

bool JsonReader::get_bool(const std::string& key, bool fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  LORY_CHECK(v->is_boolean(), where_, ": key '", key, "' is ", v->dump(),
             "; expected true or false");
  return v->get<bool>();
}

std::string JsonReader::get_string(const std::string& key, const std::string& fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  LORY_CHECK(v->is_string(), where_, ": key '", key, "' is ", v->dump(), "; expected a string");
  return v->get<std::string>();
}

std::string JsonReader::get_choice(const std::string& key, const std::string& fallback,
                                   const std::vector<std::string>& choices) {
  std::string s = get_string(key, fallback);
  if (std::find(choices.begin(), choices.end(), s) != choices.end()) return s;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "\"" : ", \"") + c + "\"";
  LORY_FAIL(where_, ": key '", key, "' is \"", s, "\"; expected one of ", list);
}

nlohmann::json JsonReader::get_object(const std::string& key) {
  const nlohmann::json* v = find(key);
  if (!v) return nlohmann::json::object();
  LORY_CHECK(v->is_object(), where_, ": key '", key, "' is ", v->dump(),
             "; expected an object { ... }");
  return *v;
}

void JsonReader::finish() const {
  std::vector<std::string> known(known_.begin(), known_.end());
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (known_.count(it.key())) continue;
    std::string hint = closest_match(it.key(), known);
    LORY_FAIL(where_, ": unknown key '", it.key(), "'",
              hint.empty() ? std::string() : "; did you mean '" + hint + "'?");
  }
}

std::string closest_match(const std::string& key, const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diag = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
        diag = up;
      }
    }
    return row[b.size()];
  };
  std::string best;
  size_t best_d = std::max<size_t>(2, key.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = distance(key, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  LORY_CHECK(in.good(), "cannot open '", path, "' for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    LORY_FAIL("'", path, "' is not valid JSON: ", e.what());
  }
}

void write_json_file(const std::string& path, const nlohmann::json& j, int indent) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    LORY_CHECK(out.good(), "cannot open '", tmp, "' for writing");
    out << j.dump(indent) << "\n";
    LORY_CHECK(out.good(), "failed writing '", tmp, "'");
  }
  LORY_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename '", tmp, "' to '", path,
             "'");
}

}  // namespace lory
