// Corpus reader: JSON Lines documents with a domain and a train/valid split.
#include "data/corpus.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/error.h"

namespace lory {
namespace {

std::string string_field(const nlohmann::json& j, const char* key, bool required,
                         const std::string& fallback, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) {
    LORY_CHECK(!required, where, ": missing field \"", key, "\"; expected a string");
    return fallback;
  }
  LORY_CHECK(it->is_string(), where, ": field \"", key, "\" is ", it->type_name(),
             "; expected a string");
  return it->get<std::string>();
}

}  // namespace

std::vector<Document> read_corpus_jsonl(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  LORY_CHECK(f.good(), "read_corpus_jsonl: cannot open '", path, "' for reading");
  std::vector<Document> docs;
  std::unordered_map<std::string, int> line_of_id;
  std::string line;
  for (int lineno = 1; std::getline(f, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(lineno);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      LORY_FAIL(where, ": not valid JSON (", e.what(),
                "); expected one document object per "
                "line");
    }
    LORY_CHECK(j.is_object(), where, ": a line holds ", j.type_name(),
               "; expected an object {\"id\", \"domain\", \"text\", ...}");
    Document d;
    d.id = string_field(j, "id", true, "", where);
    d.domain = string_field(j, "domain", true, "", where);
    d.text = string_field(j, "text", true, "", where);
    d.source = string_field(j, "source", false, "", where);
    d.split = string_field(j, "split", false, "train", where);
    LORY_CHECK(!d.id.empty(), where, ": field \"id\" is empty; expected a document id");
    LORY_CHECK(!d.domain.empty(), where, ": field \"domain\" is empty; expected a domain name");
    LORY_CHECK(d.split == "train" || d.split == "valid", where, ": field \"split\" is \"", d.split,
               "\"; expected \"train\" or \"valid\"");
    auto [it, fresh] = line_of_id.emplace(d.id, lineno);
    LORY_CHECK(fresh, where, ": id \"", d.id, "\" was already used on line ", it->second,
               "; expected unique ids");
    docs.push_back(std::move(d));
  }
  LORY_CHECK(!f.bad(), "read_corpus_jsonl: reading '", path, "' failed");
  return docs;
}

std::vector<std::string> corpus_texts(const std::vector<Document>& docs, const std::string& split) {
  std::vector<std::string> texts;
  for (const Document& d : docs)
    if (split.empty() || d.split == split) texts.push_back(d.text);
  return texts;
}

}  // namespace lory
