// Tokenizer files: this project's JSON (save/load) and GPT-2's encoder.json + vocab.bpe.
//
// Format (tokens and merges spelled in GPT-2's byte-to-unicode alphabet, so a space is 'Ġ'):
//   {"format": "lory-bpe", "version": 1, "pretokenizer": "gpt2", "vocab_size": V,
//    "tokens": ["!", "\"", ...],            // V entries, index = id
//    "merges": ["Ġ t", "h e", ...],          // rank order; "left right"
//    "special": {"<|endoftext|>": V - 1}}    // special tokens hold their literal text
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "data/tokenizer.h"

namespace lory {
namespace {

using nlohmann::json;

std::string read_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  LORY_CHECK(f.good(), what, ": cannot open '", path, "' for reading");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json parse_json(const std::string& text, const std::string& path) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    LORY_FAIL(path, ": not valid JSON (", e.what(), ")");
  }
}

const json& field(const json& j, const char* key, json::value_t type, const char* expected,
                  const std::string& path) {
  auto it = j.find(key);
  LORY_CHECK(it != j.end(), path, ": missing field \"", key, "\"; expected ", expected);
  bool ok =
      it->type() == type || (type == json::value_t::number_integer && it->is_number_unsigned());
  LORY_CHECK(ok, path, ": field \"", key, "\" is ", it->type_name(), "; expected ", expected);
  return *it;
}

// Splits a merge line "left right" at its single space.
std::pair<std::string, std::string> split_merge(const std::string& line, const std::string& where) {
  size_t sp = line.find(' ');
  LORY_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < line.size() &&
                 line.find(' ', sp + 1) == std::string::npos,
             where, ": merge \"", line, "\" is not two tokens separated by one space");
  return {line.substr(0, sp), line.substr(sp + 1)};
}

}  // namespace

void Tokenizer::save(const std::string& path) const {
  json j;
  j["format"] = "lory-bpe";
  j["version"] = 1;
  j["pretokenizer"] = "gpt2";
  j["vocab_size"] = vocab_size();
  json tokens = json::array();
  for (int32_t id = 0; id < vocab_size(); ++id)
    tokens.push_back(is_special(id) ? tokens_[id] : bytes_to_gpt2_unicode(tokens_[id]));
  j["tokens"] = std::move(tokens);
  json merges = json::array();
  for (auto [a, b] : merges_)
    merges.push_back(bytes_to_gpt2_unicode(tokens_[a]) + " " + bytes_to_gpt2_unicode(tokens_[b]));
  j["merges"] = std::move(merges);
  j["special"] = json::object();
  for (const auto& [name, id] : special_) j["special"][name] = id;
  std::string text;
  try {
    text = j.dump(1) + "\n";
  } catch (const json::exception& e) {
    LORY_FAIL("tokenizer save: a special token is not valid UTF-8 (", e.what(), ")");
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    LORY_CHECK(f.good(), "tokenizer save: cannot open '", tmp, "' for writing");
    f << text;
    f.flush();
    LORY_CHECK(f.good(), "tokenizer save: writing '", tmp, "' failed (disk full?)");
  }
  LORY_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "tokenizer save: cannot rename '", tmp,
             "' to '", path, "'");
}

Tokenizer Tokenizer::load(const std::string& path) {
  const json j = parse_json(read_file(path, "tokenizer load"), path);
  LORY_CHECK(j.is_object(), path, ": the top level is ", j.type_name(),
             "; expected an object with \"tokens\", \"merges\" and \"special\"");
  using vt = json::value_t;
  const json& format = field(j, "format", vt::string, "\"lory-bpe\"", path);
  LORY_CHECK(format == "lory-bpe", path, ": format is ", format.dump(),
             "; expected \"lory-bpe\" (for GPT-2's files use load_gpt2)");
  const json& version = field(j, "version", vt::number_integer, "1", path);
  LORY_CHECK(version == 1, path, ": version ", version.dump(), " is not supported; expected 1");
  const json& pre = field(j, "pretokenizer", vt::string, "\"gpt2\"", path);
  LORY_CHECK(pre == "gpt2", path, ": pretokenizer ", pre.dump(), " is unknown; expected \"gpt2\"");
  const json& jt = field(j, "tokens", vt::array, "an array of token strings", path);
  const json& jm = field(j, "merges", vt::array, "an array of \"left right\" strings", path);
  const json& js = field(j, "special", vt::object, "an object {name: id}", path);
  const json& jv = field(j, "vocab_size", vt::number_integer, "the number of tokens", path);
  LORY_CHECK(jv.get<int64_t>() == static_cast<int64_t>(jt.size()), path, ": vocab_size is ",
             jv.dump(), " but \"tokens\" has ", jt.size(), " entries; expected them equal");

  std::unordered_map<std::string, int32_t> special;
  for (auto it = js.begin(); it != js.end(); ++it) {
    LORY_CHECK(it->is_number_integer(), path, ": special token \"", it.key(), "\" has id ",
               it->dump(), "; expected an integer");
    special[it.key()] = it->get<int32_t>();
  }
  std::vector<bool> is_sp(jt.size(), false);
  for (const auto& kv : special)
    if (kv.second >= 0 && kv.second < static_cast<int32_t>(jt.size())) is_sp[kv.second] = true;
  std::vector<std::string> tokens(jt.size());
  std::unordered_map<std::string, int32_t> id_of;  // GPT-2 spelling -> id, regular tokens
  for (size_t id = 0; id < jt.size(); ++id) {
    LORY_CHECK(jt[id].is_string(), path, ": tokens[", id, "] is ", jt[id].type_name(),
               "; expected a string");
    const std::string& s = jt[id].get_ref<const std::string&>();
    if (is_sp[id]) continue;  // from_parts fills in the special token's text
    tokens[id] = gpt2_unicode_to_bytes(s, path + ": tokens[" + std::to_string(id) + "]");
    auto [it, fresh] = id_of.emplace(s, static_cast<int32_t>(id));
    LORY_CHECK(fresh, path, ": tokens[", id, "] '", s, "' repeats tokens[", it->second,
               "]; expected every token once");
  }
  std::vector<std::pair<int32_t, int32_t>> merges;
  for (size_t r = 0; r < jm.size(); ++r) {
    std::string where = path + ": merges[" + std::to_string(r) + "]";
    LORY_CHECK(jm[r].is_string(), where, " is ", jm[r].type_name(), "; expected a string");
    auto [left, right] = split_merge(jm[r].get<std::string>(), where);
    auto a = id_of.find(left), b = id_of.find(right);
    LORY_CHECK(a != id_of.end(), where, ": token '", left, "' is not in \"tokens\"");
    LORY_CHECK(b != id_of.end(), where, ": token '", right, "' is not in \"tokens\"");
    merges.emplace_back(a->second, b->second);
  }
  return from_parts(std::move(tokens), merges, special, path);
}

Tokenizer Tokenizer::load_gpt2(const std::string& encoder_json, const std::string& vocab_bpe) {
  const json enc = parse_json(read_file(encoder_json, "load_gpt2"), encoder_json);
  LORY_CHECK(enc.is_object() && !enc.empty(), encoder_json,
             ": expected a non-empty object {token: id}");
  const std::string eot = "<|endoftext|>";
  std::vector<std::string> tokens(enc.size());
  std::vector<bool> seen(enc.size(), false);
  std::unordered_map<std::string, int32_t> special;
  for (auto it = enc.begin(); it != enc.end(); ++it) {
    LORY_CHECK(it->is_number_integer() && it->get<int64_t>() >= 0 &&
                   it->get<int64_t>() < static_cast<int64_t>(enc.size()),
               encoder_json, ": token '", it.key(), "' has id ", it->dump(),
               "; expected an id in [0, ", enc.size(), ")");
    int32_t id = it->get<int32_t>();
    LORY_CHECK(!seen[id], encoder_json, ": id ", id, " is given to two tokens");
    seen[id] = true;
    if (it.key() == eot)
      special[eot] = id;
    else
      tokens[id] = gpt2_unicode_to_bytes(it.key(), encoder_json);
  }
  std::istringstream bpe(read_file(vocab_bpe, "load_gpt2"));
  std::string line;
  std::vector<std::pair<int32_t, int32_t>> merges;
  for (int lineno = 1; std::getline(bpe, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (lineno == 1 && line.rfind("#version", 0) == 0)) continue;
    std::string where = vocab_bpe + ":" + std::to_string(lineno);
    auto [left, right] = split_merge(line, where);
    auto a = enc.find(left), b = enc.find(right);
    LORY_CHECK(a != enc.end(), where, ": token '", left, "' is not in ", encoder_json);
    LORY_CHECK(b != enc.end(), where, ": token '", right, "' is not in ", encoder_json);
    merges.emplace_back(a->get<int32_t>(), b->get<int32_t>());
  }
  return from_parts(std::move(tokens), merges, special, encoder_json + " + " + vocab_bpe);
}

}  // namespace lory
