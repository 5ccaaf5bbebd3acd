// Token shards: one binary file holding the token ids of many documents, a document index
// (offset, length, domain, id) and a header the reader checks before trusting anything.
//
//   ShardData s;  s.vocab_size = 8192;  s.domains = {"books", "code"};
//   add_document(s, {17, 5, 912}, /*domain=*/1, "doc-42");
//   write_shard("train.tok", s);          // temp file + rename: never a half-written shard
//   ShardData t = read_shard("train.tok");  // throws lory::Error naming the file and the problem
//
// File layout, little-endian (version 1):
//   char[8] magic "LORYTOK1" | u32 version | u32 token width in bytes (2 if vocab <= 65536,
//   else 4) | u64 vocab size | u64 document count | u64 token count | u32 domain count |
//   u32 flags (bit 0: document ids present) | domain names (u32 length + bytes each) |
//   tokens (token count * width) | document index (u64 offset, u64 length, u32 domain, each) |
//   document ids (u32 length + bytes each, when flagged).
// A document's tokens do not include an end-of-text token: the loader inserts it. Documents
// are stored back to back: offset[0] = 0, offset[i+1] = offset[i] + length[i], and the last
// one ends at the token count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lory {

struct ShardDoc {
  int64_t offset = 0;  // first token, index into ShardData::tokens
  int64_t length = 0;  // number of tokens
  int32_t domain = 0;  // index into ShardData::domains
};

struct ShardData {
  int64_t vocab_size = 0;
  std::vector<int32_t> tokens;       // every document's tokens, back to back
  std::vector<ShardDoc> docs;        // in storage order
  std::vector<std::string> domains;  // domain names; ShardDoc::domain indexes this
  std::vector<std::string> doc_ids;  // empty, or one id per document

  int64_t num_docs() const { return static_cast<int64_t>(docs.size()); }
  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  // The document's id, or its index in decimal when the shard stores no ids.
  std::string doc_id(int64_t doc) const;
};

// The end-of-text token placed between documents: the last id of the vocabulary (the tokenizer
// appends <|endoftext|> after its merges; `lory tokenize` checks it).
inline int32_t end_of_text_id(const ShardData& shard) {
  return static_cast<int32_t>(shard.vocab_size - 1);
}

// Appends a document (tokens, domain index, id) after the last one.
void add_document(ShardData& shard, const std::vector<int32_t>& tokens, int32_t domain,
                  const std::string& id = "");

// Checks the invariants above (token < vocab, contiguous index, domain in range, ids count);
// throws lory::Error whose message starts with `where` (a file name, or "shard").
void validate_shard(const ShardData& shard, const std::string& where);

// Writes `shard` to `path` via `path`.tmp and a rename. Validates first.
void write_shard(const std::string& path, const ShardData& shard);
// Reads and validates a shard: wrong magic, unsupported version, truncated or oversized file,
// token >= vocab and index errors throw lory::Error naming the file and the problem.
ShardData read_shard(const std::string& path);

// Refuses a shard (read from `path`) whose vocabulary is larger than a model's `vocab`: its ids
// come from another tokenizer. A smaller one is allowed (a model's vocabulary may be padded).
void check_fits_vocab(const ShardData& shard, int64_t vocab, const std::string& path);

constexpr uint32_t kShardVersion = 1;

}  // namespace lory
