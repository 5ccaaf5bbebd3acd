// Token shards: round trips at both token widths, atomic writes, and a clear error naming the
// file for every kind of damage (truncation, magic, version, token >= vocab, corrupt index).
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "catch_compat.h"
#include "core/error.h"
#include "data/shards.h"

using namespace lory;

namespace {

std::string temp_path(const std::string& name) {
  return "/tmp/lory_test_shards_" + std::to_string(getpid()) + "_" + name;
}

bool exists(const std::string& path) {
  return std::ifstream(path).good();
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

template <typename T>
void patch(std::string& bytes, size_t offset, T value) {
  std::memcpy(&bytes[offset], &value, sizeof(T));
}

ShardData sample_shard(int64_t vocab, bool with_ids) {
  ShardData s;
  s.vocab_size = vocab;
  s.domains = {"books", "code", "wiki"};
  add_document(s, {1, 2, 3, static_cast<int32_t>(vocab - 1)}, 0, with_ids ? "a" : "");
  add_document(s, {}, 2, with_ids ? "empty one" : "");
  add_document(s, {7, 7, 0}, 1, with_ids ? "c" : "");
  return s;
}

void check_equal(const ShardData& a, const ShardData& b) {
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.tokens == b.tokens);
  CHECK(a.domains == b.domains);
  CHECK(a.doc_ids == b.doc_ids);
  REQUIRE(a.docs.size() == b.docs.size());
  for (size_t d = 0; d < a.docs.size(); ++d) {
    CHECK(a.docs[d].offset == b.docs[d].offset);
    CHECK(a.docs[d].length == b.docs[d].length);
    CHECK(a.docs[d].domain == b.docs[d].domain);
  }
}

// Header: magic 8, version 4, width 4, vocab 8, docs 8, tokens 8, domains 4, flags 4.
constexpr size_t kHeader = 48;
// Domain table of sample_shard: "books", "code", "wiki", each with a u32 length.
constexpr size_t kDomainTable = 4 + 5 + 4 + 4 + 4 + 4;

}  // namespace

TEST_CASE("shard round trip: 2-byte tokens, ids, an empty document", "[data]") {
  std::string path = temp_path("small.tok");
  ShardData s = sample_shard(1000, true);
  write_shard(path, s);
  CHECK_FALSE(exists(path + ".tmp"));
  ShardData t = read_shard(path);
  check_equal(s, t);
  CHECK(t.doc_id(1) == "empty one");
  CHECK(read_bytes(path).size() == kHeader + kDomainTable + 7 * 2 + 3 * 20 + (4 + 1) * 2 + 4 + 9);
  std::remove(path.c_str());
}

TEST_CASE("shard round trip: 4-byte tokens above 65536, no ids", "[data]") {
  std::string path = temp_path("big.tok");
  ShardData s = sample_shard(70000, false);
  s.tokens[0] = 69999;
  write_shard(path, s);
  ShardData t = read_shard(path);
  check_equal(s, t);
  CHECK(t.doc_id(2) == "2");
  CHECK(read_bytes(path).size() == kHeader + kDomainTable + 7 * 4 + 3 * 20);
  // 65536 is the largest vocabulary stored in 2 bytes (ids 0..65535).
  ShardData edge = sample_shard(65536, false);
  write_shard(path, edge);
  check_equal(edge, read_shard(path));
  CHECK(read_bytes(path).size() == kHeader + kDomainTable + 7 * 2 + 3 * 20);
  std::remove(path.c_str());
}

TEST_CASE("damaged shards give errors naming the file and the problem", "[data]") {
  std::string path = temp_path("good.tok"), bad = temp_path("bad.tok");
  write_shard(path, sample_shard(1000, true));
  const std::string good = read_bytes(path);

  SECTION("truncated anywhere") {
    for (size_t cut : {size_t{0}, size_t{5}, size_t{20}, kHeader + 3, kHeader + kDomainTable + 5,
                       kHeader + kDomainTable + 14 + 30, good.size() - 1}) {
      write_bytes(bad, good.substr(0, cut));
      CHECK_THROWS_WITH(read_shard(bad), HasSubstr(bad) && HasSubstr("truncated"));
    }
  }
  SECTION("trailing bytes") {
    write_bytes(bad, good + "xyz");
    CHECK_THROWS_WITH(read_shard(bad), HasSubstr(bad) && HasSubstr("3 unexpected bytes"));
  }
  SECTION("wrong magic") {
    std::string b = good;
    b[0] = 'X';
    write_bytes(bad, b);
    CHECK_THROWS_WITH(read_shard(bad), HasSubstr(bad) && HasSubstr("not a lory token shard"));
  }
  SECTION("unsupported version") {
    std::string b = good;
    patch<uint32_t>(b, 8, 7);
    write_bytes(bad, b);
    CHECK_THROWS_WITH(read_shard(bad), HasSubstr(bad) && HasSubstr("format version 7"));
  }
  SECTION("header counts larger than the file") {
    std::string b = good;
    patch<uint64_t>(b, 32, uint64_t{1} << 40);  // token count
    write_bytes(bad, b);
    CHECK_THROWS_WITH(read_shard(bad), HasSubstr(bad) && HasSubstr("truncated"));
  }
  SECTION("token >= vocab") {
    std::string b = good;
    patch<uint16_t>(b, kHeader + kDomainTable + 2 * 2, 1000);  // third token
    write_bytes(bad, b);
    CHECK_THROWS_WITH(read_shard(bad), HasSubstr(bad) && HasSubstr("token 2 is 1000"));
  }
  SECTION("corrupt document index") {
    size_t index = kHeader + kDomainTable + 7 * 2;
    std::string b = good;
    patch<uint64_t>(b, index + 20 + 8, 99);  // length of document 1
    write_bytes(bad, b);
    CHECK_THROWS_WITH(read_shard(bad), HasSubstr(bad) && HasSubstr("document index entry 1"));
    b = good;
    patch<uint64_t>(b, index + 40, 2);  // offset of document 2 overlaps document 0
    write_bytes(bad, b);
    CHECK_THROWS_WITH(read_shard(bad), HasSubstr(bad) && HasSubstr("out of bounds"));
    b = good;
    patch<uint32_t>(b, index + 16, 3);  // domain of document 0
    write_bytes(bad, b);
    CHECK_THROWS_WITH(read_shard(bad), HasSubstr(bad) && HasSubstr("domain 3"));
  }
  SECTION("missing file") {
    CHECK_THROWS_WITH(read_shard(temp_path("absent.tok")), HasSubstr("cannot open"));
  }
  std::remove(path.c_str());
  std::remove(bad.c_str());
}

TEST_CASE("invalid shard data is refused before writing", "[data]") {
  std::string path = temp_path("refused.tok");
  ShardData s = sample_shard(1000, false);
  s.tokens[1] = 1000;
  CHECK_THROWS_WITH(write_shard(path, s), HasSubstr("token 1 is 1000"));
  CHECK_FALSE(exists(path));
  CHECK_FALSE(exists(path + ".tmp"));
  s = sample_shard(1000, false);
  s.docs[2].domain = -1;
  CHECK_THROWS_AS(write_shard(path, s), Error);
  s = sample_shard(1000, false);
  s.tokens.push_back(5);  // not covered by any document
  CHECK_THROWS_WITH(write_shard(path, s), HasSubstr("cover 7 tokens"));
  ShardData ids;
  ids.vocab_size = 10;
  add_document(ids, {1}, 0, "x");
  CHECK_THROWS_WITH(add_document(ids, {2}, 0), HasSubstr("has no id"));
}
