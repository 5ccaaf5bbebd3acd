// Token shards: the binary writer and the checking reader (layout in shards.h).
#include "data/shards.h"

#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/error.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "shards are read and written raw");

namespace lory {
namespace {

constexpr char kMagic[8] = {'L', 'O', 'R', 'Y', 'T', 'O', 'K', '1'};
constexpr uint32_t kFlagDocIds = 1;
constexpr int64_t kIndexEntryBytes = 8 + 8 + 4;

uint32_t token_width(int64_t vocab_size) {
  return vocab_size <= 65536 ? 2 : 4;
}

class Writer {
 public:
  explicit Writer(const std::string& path) : path_(path), out_(path, std::ios::binary) {
    LORY_CHECK(out_, "write_shard: cannot open '", path, "' for writing");
  }
  template <typename T>
  void put(T value) {
    bytes(&value, sizeof(T));
  }
  void str(const std::string& s) {
    put<uint32_t>(static_cast<uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  void bytes(const void* p, size_t n) { out_.write(static_cast<const char*>(p), n); }
  void close() {
    out_.close();
    LORY_CHECK(!out_.fail(), "write_shard: writing '", path_, "' failed (disk full?)");
  }

 private:
  std::string path_;
  std::ofstream out_;
};

// Reads the file front to back; every read first checks that the bytes are there, so a
// truncated file or an absurd count in a corrupt header is reported, never allocated.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    LORY_CHECK(in_, "read_shard: cannot open '", path, "'");
    in_.seekg(0, std::ios::end);
    size_ = static_cast<int64_t>(in_.tellg());
    in_.seekg(0);
  }
  int64_t remaining() const { return size_ - pos_; }
  void need(int64_t n, const char* what) {
    LORY_CHECK(n >= 0 && n <= remaining(), "read_shard: '", path_, "' is truncated: ", what,
               " needs ", n, " bytes at offset ", pos_, " but the file has ", size_, " bytes");
  }
  void bytes(void* p, int64_t n, const char* what) {
    need(n, what);
    in_.read(static_cast<char*>(p), n);
    LORY_CHECK(in_, "read_shard: reading '", path_, "' failed at offset ", pos_);
    pos_ += n;
  }
  template <typename T>
  T get(const char* what) {
    T value;
    bytes(&value, sizeof(T), what);
    return value;
  }
  std::string str(const char* what) {
    uint32_t n = get<uint32_t>(what);
    std::string s(n, '\0');
    bytes(s.data(), n, what);
    return s;
  }
  // Checks that `count` items of `item_bytes` each fit in what is left of the file.
  void need_items(uint64_t count, int64_t item_bytes, const char* what) {
    LORY_CHECK(count <= static_cast<uint64_t>(remaining() / item_bytes), "read_shard: '", path_,
               "' is truncated: the header announces ", count, " ", what, " (", item_bytes,
               " bytes each) but only ", remaining(), " bytes are left at offset ", pos_);
  }

 private:
  std::string path_;
  std::ifstream in_;
  int64_t size_ = 0, pos_ = 0;
};

}  // namespace

std::string ShardData::doc_id(int64_t doc) const {
  return doc_ids.empty() ? std::to_string(doc) : doc_ids[doc];
}

void add_document(ShardData& shard, const std::vector<int32_t>& tokens, int32_t domain,
                  const std::string& id) {
  // Ids are all-or-none: the first document decides whether the shard carries them.
  bool with_ids = shard.docs.empty() ? !id.empty() : !shard.doc_ids.empty();
  LORY_CHECK(
      with_ids == !id.empty(), "add_document: document ", shard.docs.size(),
      with_ids ? " has no id but earlier ones have" : " has an id but earlier ones have none");
  if (with_ids) shard.doc_ids.push_back(id);
  shard.docs.push_back({shard.num_tokens(), static_cast<int64_t>(tokens.size()), domain});
  shard.tokens.insert(shard.tokens.end(), tokens.begin(), tokens.end());
}

void validate_shard(const ShardData& s, const std::string& where) {
  LORY_CHECK(s.vocab_size >= 1 && s.vocab_size <= (int64_t{1} << 31), where, ": vocab size is ",
             s.vocab_size, "; expected 1..2^31");
  for (int64_t i = 0; i < s.num_tokens(); ++i) {
    int32_t t = s.tokens[i];
    LORY_CHECK(t >= 0 && t < s.vocab_size, where, ": token ", i, " is ", t,
               "; expected 0 <= token < vocab size ", s.vocab_size);
  }
  int64_t end = 0;
  for (int64_t d = 0; d < s.num_docs(); ++d) {
    const ShardDoc& doc = s.docs[d];
    LORY_CHECK(doc.offset == end && doc.length >= 0 && doc.length <= s.num_tokens() - end, where,
               ": document index entry ", d, " (offset ", doc.offset, ", length ", doc.length,
               ") is out of bounds; expected offset ", end,
               " and offset + length <= ", s.num_tokens(), " tokens");
    LORY_CHECK(doc.domain >= 0 && doc.domain < static_cast<int64_t>(s.domains.size()), where,
               ": document ", d, " has domain ", doc.domain, "; expected 0..",
               static_cast<int64_t>(s.domains.size()) - 1);
    end += doc.length;
  }
  LORY_CHECK(end == s.num_tokens(), where, ": the documents cover ", end,
             " tokens but the shard has ", s.num_tokens());
  LORY_CHECK(s.doc_ids.empty() || s.doc_ids.size() == s.docs.size(), where, ": ", s.doc_ids.size(),
             " document ids for ", s.docs.size(), " documents");
}

void write_shard(const std::string& path, const ShardData& s) {
  validate_shard(s, "write_shard: '" + path + "'");
  std::string tmp = path + ".tmp";
  {
    Writer w(tmp);
    uint32_t width = token_width(s.vocab_size);
    w.bytes(kMagic, sizeof(kMagic));
    w.put<uint32_t>(kShardVersion);
    w.put<uint32_t>(width);
    w.put<uint64_t>(s.vocab_size);
    w.put<uint64_t>(s.num_docs());
    w.put<uint64_t>(s.num_tokens());
    w.put<uint32_t>(static_cast<uint32_t>(s.domains.size()));
    w.put<uint32_t>(s.doc_ids.empty() ? 0 : kFlagDocIds);
    for (const std::string& name : s.domains) w.str(name);
    if (width == 4) {
      w.bytes(s.tokens.data(), s.tokens.size() * 4);
    } else {
      std::vector<uint16_t> chunk;
      for (size_t i = 0; i < s.tokens.size(); i += 1 << 16) {
        size_t n = std::min(s.tokens.size() - i, size_t{1} << 16);
        chunk.assign(s.tokens.begin() + i, s.tokens.begin() + i + n);
        w.bytes(chunk.data(), n * 2);
      }
    }
    for (const ShardDoc& d : s.docs) {
      w.put<uint64_t>(d.offset);
      w.put<uint64_t>(d.length);
      w.put<uint32_t>(d.domain);
    }
    for (const std::string& id : s.doc_ids) w.str(id);
    w.close();
  }
  LORY_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "write_shard: cannot rename '", tmp,
             "' to '", path, "'");
}

ShardData read_shard(const std::string& path) {
  Reader r(path);
  std::string where = "read_shard: '" + path + "'";
  char magic[8];
  r.bytes(magic, 8, "the magic");
  LORY_CHECK(std::memcmp(magic, kMagic, 8) == 0, where, " is not a lory token shard (magic '",
             std::string(magic, 8), "'; expected 'LORYTOK1')");
  uint32_t version = r.get<uint32_t>("the version");
  LORY_CHECK(version == kShardVersion, where, " has format version ", version,
             "; this build reads version ", kShardVersion);
  uint32_t width = r.get<uint32_t>("the token width");
  ShardData s;
  s.vocab_size = static_cast<int64_t>(r.get<uint64_t>("the vocab size"));
  LORY_CHECK(s.vocab_size >= 1 && s.vocab_size <= (int64_t{1} << 31), where, ": vocab size ",
             s.vocab_size, " is out of range");
  LORY_CHECK(width == token_width(s.vocab_size), where, ": token width is ", width,
             " bytes; expected ", token_width(s.vocab_size), " for vocab size ", s.vocab_size);
  uint64_t num_docs = r.get<uint64_t>("the document count");
  uint64_t num_tokens = r.get<uint64_t>("the token count");
  uint32_t num_domains = r.get<uint32_t>("the domain count");
  uint32_t flags = r.get<uint32_t>("the flags");
  LORY_CHECK((flags & ~kFlagDocIds) == 0, where, ": unknown flags ", flags);
  r.need_items(num_domains, 4, "domain names");
  for (uint32_t i = 0; i < num_domains; ++i) s.domains.push_back(r.str("a domain name"));

  r.need_items(num_tokens, width, "tokens");
  s.tokens.resize(num_tokens);
  if (width == 4) {
    r.bytes(s.tokens.data(), static_cast<int64_t>(num_tokens) * 4, "the tokens");
  } else {
    std::vector<uint16_t> chunk;
    for (uint64_t i = 0; i < num_tokens; i += 1 << 16) {
      uint64_t n = std::min<uint64_t>(num_tokens - i, 1 << 16);
      chunk.resize(n);
      r.bytes(chunk.data(), static_cast<int64_t>(n) * 2, "the tokens");
      std::copy(chunk.begin(), chunk.end(), s.tokens.begin() + i);
    }
  }
  r.need_items(num_docs, kIndexEntryBytes, "document index entries");
  s.docs.resize(num_docs);
  for (ShardDoc& d : s.docs) {
    d.offset = static_cast<int64_t>(r.get<uint64_t>("the document index"));
    d.length = static_cast<int64_t>(r.get<uint64_t>("the document index"));
    d.domain = static_cast<int32_t>(r.get<uint32_t>("the document index"));
  }
  if (flags & kFlagDocIds) {
    r.need_items(num_docs, 4, "document ids");
    s.doc_ids.reserve(num_docs);
    for (uint64_t i = 0; i < num_docs; ++i) s.doc_ids.push_back(r.str("a document id"));
  }
  LORY_CHECK(r.remaining() == 0, where, " has ", r.remaining(),
             " unexpected bytes after the document index (corrupt or not a version ", kShardVersion,
             " shard)");
  validate_shard(s, where);
  return s;
}

void check_fits_vocab(const ShardData& shard, int64_t vocab, const std::string& path) {
  LORY_CHECK(shard.vocab_size <= vocab, "the shard '", path, "' has vocabulary ", shard.vocab_size,
             " but the model's vocab is ", vocab, " (a different tokenizer?)");
}

}  // namespace lory
