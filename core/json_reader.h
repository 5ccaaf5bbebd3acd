// JsonReader: typed, checked access to a JSON object for config files. Every getter names the
// key, the value and the expected type on error; finish() rejects keys nobody asked for, with a
// "did you mean" hint.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lory {

class JsonReader {
 public:
  // `where` names the object in messages, e.g. "model config 'cfg.json'" or "training config.optimizer".
  JsonReader(const nlohmann::json& object, std::string where);

  bool has(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback);
  double get_double(const std::string& key, double fallback);
  bool get_bool(const std::string& key, bool fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  // One of `choices`; the message lists them.
  std::string get_choice(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& choices);
  // A nested object (an empty one when absent); marks the key as known.
  nlohmann::json get_object(const std::string& key);
  // Throws for every key that no getter asked for.
  void finish() const;
  const std::string& where() const { return where_; }

 private:
  const nlohmann::json* find(const std::string& key);
  nlohmann::json object_;  // a copy: readers are often built from temporaries
  std::string where_;
  std::set<std::string> known_;
};

// The candidate closest to `key` by edit distance, or "" when none is close.
std::string closest_match(const std::string& key, const std::vector<std::string>& candidates);

// Reads a JSON file, naming the file (and line/column for syntax errors) on failure.
nlohmann::json read_json_file(const std::string& path);
// Writes JSON to path + ".tmp", then renames it over path.
void write_json_file(const std::string& path, const nlohmann::json& j, int indent = 2);

}  // namespace lory
