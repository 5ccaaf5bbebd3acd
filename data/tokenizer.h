// Byte-level BPE tokenizer (GPT-2 style): GPT-2 pre-tokenization, merges learned by the project
// (or GPT-2's own), special tokens such as <|endoftext|>, JSON save/load.
//
//   Tokenizer tok = Tokenizer::train(texts, 8192);        // 256 bytes + merges + specials
//   std::vector<int32_t> ids = tok.encode("Call me Ishmael.");
//   std::string back = tok.decode(ids);                    // == the input, for ANY byte string
//   tok.save("work/tokenizer.json");
//   Tokenizer gpt2 = Tokenizer::load_gpt2("encoder.json", "vocab.bpe");  // GPT-2's exact ids
//
// Every token id stands for a byte string; the 256 single bytes are always in the vocabulary,
// so encoding never fails and decode(encode(x)) == x. encode() treats "<|endoftext|>" in the
// text as plain characters; encode_with_special() turns it into its special id.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/piece_cache.h"

namespace lory {

struct TrainOptions {
  std::vector<std::string> special = {"<|endoftext|>"};  // appended after the merges
  bool verbose = false;                                  // progress lines on stderr
};

class Tokenizer {
 public:
  Tokenizer() = default;

  // Learns vocab_size - 256 - special.size() merges from texts: pre-token frequencies, then
  // repeatedly the most frequent adjacent pair (ties: the smaller left id, then right id).
  // Deterministic. Stops early (smaller vocabulary) only if no pair is left to merge.
  static Tokenizer train(const std::vector<std::string>& texts, int vocab_size,
                         const TrainOptions& options = {});

  // This project's JSON format (see tokenizer_io.cpp); errors name the file and the problem.
  void save(const std::string& path) const;  // written to path.tmp, then renamed
  static Tokenizer load(const std::string& path);
  // GPT-2's encoder.json (token -> id, GPT-2 byte-to-unicode strings) and vocab.bpe (merges).
  static Tokenizer load_gpt2(const std::string& encoder_json, const std::string& vocab_bpe);

  // Builds a tokenizer from its parts: tokens[id] = the id's bytes; merges[r] = the pair merged
  // at rank r (the merged token must be in tokens); special: string -> id. Checks everything.
  static Tokenizer from_parts(std::vector<std::string> tokens,
                              const std::vector<std::pair<int32_t, int32_t>>& merges,
                              const std::unordered_map<std::string, int32_t>& special,
                              const std::string& where);

  std::vector<int32_t> encode(std::string_view text) const;
  std::vector<int32_t> encode_with_special(std::string_view text) const;
  // Encodes many documents on all threads (no special tokens); same ids as encode() each.
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts) const;
  std::string decode(const std::vector<int32_t>& ids) const;

  void clear_cache() const { cache_.clear(); }  // encode()'s memo of pre-token ids

  int vocab_size() const { return static_cast<int>(tokens_.size()); }
  int num_merges() const { return static_cast<int>(merges_.size()); }
  const std::string& token_bytes(int32_t id) const;   // the bytes id stands for
  int32_t special_id(const std::string& name) const;  // throws when name is not special
  bool is_special(int32_t id) const;
  int32_t eot_id() const { return special_id("<|endoftext|>"); }
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }
  const std::unordered_map<std::string, int32_t>& specials() const { return special_; }

 private:
  using Cache = PieceCache;
  struct Merge {
    int32_t rank, result;
  };
  void bpe(std::string_view piece, std::vector<int32_t>& out) const;  // one pre-token
  void encode_into(std::string_view text, Cache& cache, std::vector<int32_t>& out) const;

  std::vector<std::string> tokens_;                  // id -> bytes
  std::vector<std::pair<int32_t, int32_t>> merges_;  // rank -> (left, right)
  std::unordered_map<uint64_t, Merge> merge_of_;     // (left << 32 | right) -> rank, result
  std::unordered_map<std::string, int32_t> special_;
  int32_t byte_id_[256] = {};
  mutable Cache cache_;  // pre-token -> ids; makes encode() unsafe to call concurrently
};

// GPT-2's reversible map from bytes to printable characters (used in its JSON files): printable
// Latin-1 bytes map to themselves, the other 68 to U+0100 upwards. Returns UTF-8 strings.
std::string bytes_to_gpt2_unicode(std::string_view bytes);
// The inverse; throws lory::Error naming `where` when a character is not in the map.
std::string gpt2_unicode_to_bytes(std::string_view text, const std::string& where);

}  // namespace lory
