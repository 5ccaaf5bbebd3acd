// Byte-level BPE tokenizer: GPT-2 pre-tokenization and ids, lossless round trips on any bytes,
// training (size, determinism, compression, a naive reference), save/load, clear errors.
#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "catch_compat.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/corpus.h"
#include "data/pretokenize.h"
#include "data/tokenizer.h"

using namespace lory;

namespace {

const std::string kData = LORY_TEST_DATA;

const Tokenizer& gpt2() {
  static const Tokenizer t =
      Tokenizer::load_gpt2(kData + "/gpt2/encoder.json", kData + "/gpt2/vocab.bpe");
  return t;
}

const std::vector<std::string>& sample_texts() {
  static const std::vector<std::string> texts =
      corpus_texts(read_corpus_jsonl(kData + "/corpus/sample.jsonl"));
  return texts;
}

const Tokenizer& trained() {  // 1024 tokens learned from the sample
  static const Tokenizer t = Tokenizer::train(sample_texts(), 1024);
  return t;
}

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// Text-like random bytes: words, spaces, newlines, digits, apostrophes, UTF-8 and raw bytes.
std::string random_text(std::mt19937& rng, size_t n) {
  static const std::vector<std::string> parts = {"the",
                                                 " whale",
                                                 "'s",
                                                 "'ll",
                                                 " ",
                                                 "  ",
                                                 "\n",
                                                 "\n\n",
                                                 "\t",
                                                 "42",
                                                 " 7",
                                                 "\xC3\xA9",
                                                 "\xE4\xB8\xAD",
                                                 "\xF0\x9F\x90\xB3",
                                                 ",",
                                                 "...",
                                                 "\xFF",
                                                 "\x80",
                                                 "\xC3",
                                                 " \xE2\x80\x94",
                                                 "Ishmael",
                                                 "!"};
  std::string s;
  while (s.size() < n) s += parts[rng() % parts.size()];
  return s;
}

// GPT-2's bpe() written the slow, obvious way: find the lowest-ranked adjacent pair, merge all
// its occurrences left to right, repeat. The reference the heap-based encoder must match.
std::vector<int32_t> naive_encode(const Tokenizer& t, const std::string& text) {
  std::map<std::pair<int32_t, int32_t>, size_t> rank;
  for (size_t r = 0; r < t.merges().size(); ++r) rank.emplace(t.merges()[r], r);
  std::map<std::string, int32_t> id_of;
  for (int32_t id = 0; id < t.vocab_size(); ++id)
    if (!t.is_special(id)) id_of.emplace(t.token_bytes(id), id);
  std::vector<int32_t> out;
  for (std::string_view piece : pretokenize(text)) {
    std::vector<int32_t> w;
    for (char c : piece) w.push_back(id_of.at(std::string(1, c)));
    while (w.size() > 1) {
      size_t best = SIZE_MAX;
      for (size_t i = 0; i + 1 < w.size(); ++i) {
        auto it = rank.find({w[i], w[i + 1]});
        if (it != rank.end()) best = std::min(best, it->second);
      }
      if (best == SIZE_MAX) break;
      auto [a, b] = t.merges()[best];
      int32_t ab = id_of.at(t.token_bytes(a) + t.token_bytes(b));
      std::vector<int32_t> next;
      for (size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == a && w[i + 1] == b) {
          next.push_back(ab);
          ++i;
        } else {
          next.push_back(w[i]);
        }
      }
      w = next;
    }
    out.insert(out.end(), w.begin(), w.end());
  }
  return out;
}

std::string write_temp(const std::string& name, const std::string& content) {
  std::string path = "tokenizer_test_" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

}  // namespace

TEST_CASE("pre-tokenizer splits like GPT-2's pattern", "[data]") {
  using V = std::vector<std::string_view>;
  CHECK(pretokenize("Hello  world's") == V{"Hello", " ", " world", "'s"});
  CHECK(pretokenize("a\n\nb") == V{"a", "\n", "\n", "b"});
  CHECK(pretokenize("end  ") == V{"end", "  "});
  CHECK(pretokenize("x 42 ,!y") == V{"x", " 42", " ,!", "y"});
  CHECK(pretokenize("I'll 'LL") == V{"I", "'ll", " '", "LL"});
  CHECK(pretokenize("caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87") ==
        V{"caf\xC3\xA9", " \xE4\xB8\xAD\xE6\x96\x87"});
  CHECK(char_class(0x00E9) == CharClass::letter);  // é
  CHECK(char_class(0x4E2D) == CharClass::letter);  // 中
  CHECK(char_class(0x0663) == CharClass::number);  // Arabic-Indic three
  CHECK(char_class(0x00BD) == CharClass::number);  // ½
  CHECK(char_class(0x3000) == CharClass::space);   // ideographic space
  CHECK(char_class(0x1F433) == CharClass::other);  // whale emoji
  CHECK(char_class(0x0301) == CharClass::other);   // combining acute: a mark, not a letter
  // Invalid UTF-8: every byte is covered, each bad byte counts as one "other" character.
  std::string bad = "ok\xFF\xC3(\xE2\x82 x\xED\xA0\x80";
  std::string joined;
  for (auto p : pretokenize(bad)) joined += p;
  CHECK(joined == bad);
  uint32_t cp;
  CHECK(utf8_decode("\xC0\xAF", 0, &cp) == 1);  // overlong '/'
  CHECK(cp == 0xFFFD);
  CHECK(utf8_decode("\xF0\x9F\x90\xB3", 0, &cp) == 4);
  CHECK(cp == 0x1F433);
}

TEST_CASE("GPT-2 vocabulary gives GPT-2's ids on the committed strings", "[data]") {
  const Tokenizer& t = gpt2();
  CHECK(t.vocab_size() == 50257);
  CHECK(t.num_merges() == 50000);
  CHECK(t.eot_id() == 50256);
  std::ifstream f(kData + "/gpt2/expected.json");
  REQUIRE(f.good());
  nlohmann::json cases = nlohmann::json::parse(f);
  REQUIRE(cases.size() >= 40);
  for (const auto& c : cases) {
    std::string text = c["text"];
    std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();
    INFO("text: " << nlohmann::json(text).dump());
    CHECK(t.encode(text) == want);
    CHECK(t.decode(want) == text);
  }
  // The special token is text for encode() and one id for encode_with_special().
  CHECK(t.encode_with_special("a<|endoftext|>b") == std::vector<int32_t>{64, 50256, 65});
  CHECK(t.encode("<|endoftext|>").size() > 1);
}

TEST_CASE("heap-based encoder matches the naive GPT-2 bpe()", "[data]") {
  std::mt19937 rng(7);
  for (int i = 0; i < 20; ++i) {
    std::string text = random_text(rng, 200 + rng() % 400);
    CHECK(trained().encode(text) == naive_encode(trained(), text));
    CHECK(gpt2().encode(text) == naive_encode(gpt2(), text));
  }
  std::string run(3000, 'a');  // one long pre-token
  CHECK(gpt2().encode(run) == naive_encode(gpt2(), run));
}

TEST_CASE("decode(encode(x)) == x for every byte string", "[data]") {
  std::mt19937 rng(1);
  for (const Tokenizer* t : {&gpt2(), &trained()}) {
    CHECK(t->decode(t->encode("")).empty());
    for (int i = 0; i < 200; ++i) {
      std::string x = (i % 2) ? random_bytes(rng, rng() % 300) : random_text(rng, rng() % 300);
      REQUIRE(t->decode(t->encode(x)) == x);
    }
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    CHECK(t->decode(t->encode(all)) == all);
    for (const std::string& doc : sample_texts()) REQUIRE(t->decode(t->encode(doc)) == doc);
  }
}

TEST_CASE("training gives the requested size, is deterministic and compresses", "[data]") {
  const Tokenizer& t = trained();
  CHECK(t.vocab_size() == 1024);
  CHECK(t.eot_id() == 1023);
  CHECK(t.num_merges() >= 1024 - 256 - 1);
  int threads = num_threads();
  set_num_threads(1);
  Tokenizer again = Tokenizer::train(sample_texts(), 1024);
  set_num_threads(threads);
  CHECK(again.merges() == t.merges());
  size_t bytes = 0, ids = 0;
  for (const std::string& doc : sample_texts()) {
    auto a = t.encode(doc);
    CHECK(again.encode(doc) == a);
    bytes += doc.size();
    ids += a.size();
  }
  double ratio = double(bytes) / double(ids);
  INFO("bytes per token " << ratio);
  CHECK(ratio > 2.5);
  auto batch = t.encode_batch(sample_texts());
  for (size_t i = 0; i < batch.size(); ++i) CHECK(batch[i] == t.encode(sample_texts()[i]));
}

TEST_CASE("training matches a naive trainer that recounts every pair", "[data]") {
  std::vector<std::string> texts(sample_texts().begin(), sample_texts().begin() + 3);
  for (auto& s : texts) s = s.substr(0, 4000);
  texts.push_back("aaaaaaa aaaa abababab aaa");  // overlapping pairs
  const int V = 256 + 60 + 1;
  Tokenizer t = Tokenizer::train(texts, V);
  // Naive: words as id sequences; each step count all pairs, take the most frequent (ties: the
  // smaller ids), merge it everywhere.
  std::map<std::string, int64_t> counts;
  for (auto& s : texts)
    for (auto p : pretokenize(s)) ++counts[std::string(p)];
  std::vector<std::pair<std::vector<int32_t>, int64_t>> words;
  for (auto& [w, k] : counts) words.push_back({std::vector<int32_t>(w.begin(), w.end()), k});
  for (auto& w : words)
    for (auto& s : w.first) s &= 0xFF;
  std::map<std::string, int32_t> id_of;
  for (int b = 0; b < 256; ++b) id_of[std::string(1, char(b))] = b;
  std::vector<std::string> bytes_of(256);
  for (int b = 0; b < 256; ++b) bytes_of[b] = std::string(1, char(b));
  std::vector<std::pair<int32_t, int32_t>> merges;
  while (static_cast<int>(bytes_of.size()) + 1 < V) {
    std::map<std::pair<int32_t, int32_t>, int64_t> pc;
    for (auto& [w, k] : words)
      for (size_t i = 0; i + 1 < w.size(); ++i) pc[{w[i], w[i + 1]}] += k;
    auto best = pc.begin();
    for (auto it = pc.begin(); it != pc.end(); ++it)
      if (it->second > best->second) best = it;  // map order: ties keep the smaller ids
    auto [a, b] = best->first;
    std::string ab_bytes = bytes_of[a] + bytes_of[b];
    if (!id_of.count(ab_bytes)) {
      id_of[ab_bytes] = static_cast<int32_t>(bytes_of.size());
      bytes_of.push_back(ab_bytes);
    }
    int32_t ab = id_of[ab_bytes];
    merges.push_back({a, b});
    for (auto& [w, k] : words) {
      std::vector<int32_t> next;
      for (size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == a && w[i + 1] == b)
          next.push_back(ab), ++i;
        else
          next.push_back(w[i]);
      }
      w = next;
    }
  }
  CHECK(t.merges() == merges);
}

TEST_CASE("save and load round trip", "[data]") {
  for (const Tokenizer* t : {&trained(), &gpt2()}) {
    std::string path = "tokenizer_test_roundtrip.json";
    t->save(path);
    Tokenizer u = Tokenizer::load(path);
    CHECK(u.vocab_size() == t->vocab_size());
    CHECK(u.merges() == t->merges());
    CHECK(u.specials() == t->specials());
    for (int32_t id = 0; id < t->vocab_size(); ++id)
      REQUIRE(u.token_bytes(id) == t->token_bytes(id));
    const std::string& doc = sample_texts()[5];
    CHECK(u.encode(doc) == t->encode(doc));
    std::remove(path.c_str());
  }
}

TEST_CASE("bad tokenizer files and ids give clear errors", "[data]") {
    CHECK_THROWS_WITH(Tokenizer::load("no/such/file.json"), HasSubstr("cannot open"));
  std::string good = "tokenizer_test_good.json";
  trained().save(good);
  std::ifstream in(good);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(good.c_str());
  auto load_text = [](const std::string& name, const std::string& content) {
    std::string path = write_temp(name, content);
    try {
      Tokenizer::load(path);
    } catch (...) {
      std::remove(path.c_str());
      throw;
    }
    std::remove(path.c_str());
  };
  CHECK_THROWS_WITH(load_text("trunc.json", text.substr(0, text.size() / 2)),
                    HasSubstr("not valid JSON"));
  nlohmann::json j = nlohmann::json::parse(text);
  auto edit = [&](auto fn) {
    nlohmann::json k = j;
    fn(k);
    return k.dump();
  };
  CHECK_THROWS_WITH(load_text("f.json", edit([](auto& k) { k["format"] = "hf"; })),
                    HasSubstr("format"));
  CHECK_THROWS_WITH(load_text("m.json", edit([](auto& k) { k.erase("merges"); })),
                    HasSubstr("missing field \"merges\""));
  CHECK_THROWS_WITH(load_text("v.json", edit([](auto& k) { k["vocab_size"] = 7; })),
                    HasSubstr("vocab_size"));
  CHECK_THROWS_WITH(load_text("b.json", edit([](auto& k) { k["merges"][3] = "zzzq Ġ"; })),
                    HasSubstr("merges[3]"));
  CHECK_THROWS_WITH(load_text("t.json", edit([](auto& k) { k["tokens"][65] = "\u4e2d"; })),
                    HasSubstr("tokens[65]"));
  CHECK_THROWS_WITH(load_text("d.json", edit([](auto& k) { k["tokens"][66] = "A"; })),
                    HasSubstr("tokens[66] 'A' repeats tokens[65]"));
  CHECK_THROWS_WITH(load_text("s.json", edit([](auto& k) { k["special"]["<|x|>"] = 99999; })),
                    HasSubstr("special token '<|x|>'"));
  CHECK_THROWS_WITH(trained().decode({5, 1024}), HasSubstr("ids[1] = 1024"));
  CHECK_THROWS_WITH(Tokenizer::train(sample_texts(), 100), HasSubstr("vocab_size 100"));
  CHECK_THROWS_AS(trained().special_id("<|pad|>"), Error);
}

TEST_CASE("corpus reader reads the sample and names bad lines", "[data]") {
    auto docs = read_corpus_jsonl(kData + "/corpus/sample.jsonl");
  REQUIRE(docs.size() > 40);
  std::map<std::string, int> valid;
  for (auto& d : docs) {
    CHECK(!d.text.empty());
    valid[d.domain] += d.split == "valid";
  }
  CHECK(valid.size() >= 4);
  for (auto& [domain, n] : valid) CHECK(n >= 1);
  CHECK(corpus_texts(docs, "valid").size() < corpus_texts(docs, "train").size());
  auto bad = [](const std::string& name, const std::string& content) {
    std::string path = write_temp(name, content);
    try {
      read_corpus_jsonl(path);
    } catch (...) {
      std::remove(path.c_str());
      throw;
    }
    std::remove(path.c_str());
  };
  const std::string ok = "{\"id\":\"a\",\"domain\":\"d\",\"text\":\"t\"}\n";
  CHECK_THROWS_WITH(bad("c1.jsonl", ok + "{\"id\":\"b\",\n"), HasSubstr(":2: not valid JSON"));
  CHECK_THROWS_WITH(bad("c2.jsonl", ok + "{\"id\":\"b\",\"domain\":\"d\"}\n"),
                    HasSubstr(":2: missing field \"text\""));
  CHECK_THROWS_WITH(bad("c3.jsonl", "{\"id\":1,\"domain\":\"d\",\"text\":\"t\"}\n"),
                    HasSubstr(":1: field \"id\" is number"));
  CHECK_THROWS_WITH(bad("c4.jsonl", ok + ok), HasSubstr("already used on line 1"));
  CHECK_THROWS_WITH(bad("c5.jsonl",
                        "{\"id\":\"a\",\"domain\":\"d\",\"text\":\"t\",\"split\":"
                        "\"test\"}\n"),
                    HasSubstr("expected \"train\" or \"valid\""));
  CHECK_THROWS_WITH(bad("c6.jsonl", "[1, 2]\n"), HasSubstr("expected an object"));
}
