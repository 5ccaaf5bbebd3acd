// Byte-level BPE: building a checked tokenizer from its parts, encode (pre-tokenize, then merge
// by rank inside each piece, with a per-piece cache), decode, GPT-2's byte-to-unicode map.
#include "data/tokenizer.h"

#include <algorithm>
#include <queue>

#include "core/error.h"
#include "core/threads.h"
#include "data/pretokenize.h"

namespace lory {
namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

// GPT-2's bytes_to_unicode(): printable bytes keep their code point, the rest (controls, space,
// 0x7F..0xA0, 0xAD) take U+0100, U+0101, ... in byte order.
struct ByteMap {
  uint32_t cp_of_byte[256];
  int16_t byte_of_cp[324];
  ByteMap() {
    std::fill(byte_of_cp, byte_of_cp + 324, int16_t{-1});
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      cp_of_byte[b] = printable ? b : 256 + n++;
      byte_of_cp[cp_of_byte[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

}  // namespace

std::string bytes_to_gpt2_unicode(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) {
    uint32_t cp = byte_map().cp_of_byte[b];
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else {  // every mapped code point is below U+0800: two UTF-8 bytes
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

std::string gpt2_unicode_to_bytes(std::string_view text, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    int len = utf8_decode(text, i, &cp);
    int b = cp < 324 ? byte_map().byte_of_cp[cp] : -1;
    LORY_CHECK(b >= 0, where, ": token '", std::string(text), "' has character U+", std::hex, cp,
               " at byte ", std::dec, i,
               ", which is not in GPT-2's byte-to-unicode map; expected printable characters "
               "standing for bytes (e.g. 'Ġ' for a space)");
    out += static_cast<char>(b);
    i += len;
  }
  return out;
}

Tokenizer Tokenizer::from_parts(std::vector<std::string> tokens,
                                const std::vector<std::pair<int32_t, int32_t>>& merges,
                                const std::unordered_map<std::string, int32_t>& special,
                                const std::string& where) {
  Tokenizer t;
  const int32_t V = static_cast<int32_t>(tokens.size());
  std::vector<bool> is_special(V, false);
  for (const auto& [name, id] : special) {
    LORY_CHECK(!name.empty(), where, ": a special token has an empty name");
    LORY_CHECK(id >= 0 && id < V, where, ": special token '", name, "' has id ", id,
               "; expected an id in [0, ", V, ")");
    LORY_CHECK(!is_special[id], where, ": two special tokens share id ", id);
    is_special[id] = true;
    tokens[id] = name;  // decode() writes the special token's text
  }
  std::unordered_map<std::string, int32_t> id_of;
  for (int32_t id = 0; id < V; ++id) {
    if (is_special[id]) continue;
    LORY_CHECK(!tokens[id].empty(), where, ": token ", id, " is empty");
    auto [it, fresh] = id_of.emplace(tokens[id], id);
    LORY_CHECK(fresh, where, ": tokens ", it->second, " and ", id, " are the same bytes '",
               bytes_to_gpt2_unicode(tokens[id]), "'; expected every token once");
  }
  for (int b = 0; b < 256; ++b) {
    auto it = id_of.find(std::string(1, static_cast<char>(b)));
    LORY_CHECK(it != id_of.end(), where, ": byte 0x", std::hex, b, std::dec,
               " has no token; a byte-level vocabulary must hold all 256 single bytes");
    t.byte_id_[b] = it->second;
  }
  for (size_t r = 0; r < merges.size(); ++r) {
    auto [a, b] = merges[r];
    LORY_CHECK(a >= 0 && a < V && b >= 0 && b < V && !is_special[a] && !is_special[b], where,
               ": merge ", r, " (", a, ", ", b, ") names an id that is not a regular token");
    auto it = id_of.find(tokens[a] + tokens[b]);
    LORY_CHECK(it != id_of.end(), where, ": merge ", r, " '", bytes_to_gpt2_unicode(tokens[a]), " ",
               bytes_to_gpt2_unicode(tokens[b]),
               "' makes a token that is not in the "
               "vocabulary");
    bool fresh =
        t.merge_of_.emplace(pair_key(a, b), Merge{static_cast<int32_t>(r), it->second}).second;
    LORY_CHECK(fresh, where, ": merge ", r, " repeats an earlier merge of (", a, ", ", b, ")");
  }
  t.tokens_ = std::move(tokens);
  t.merges_ = merges;
  t.special_ = special;
  return t;
}

// Merges inside one pre-token exactly as GPT-2's bpe(): take the lowest-ranked pair present,
// merge all its occurrences left to right, repeat. A heap of candidate pairs ordered by
// (rank, position) finds them in O(n log n); a candidate is stale when either symbol changed.
void Tokenizer::bpe(std::string_view piece, std::vector<int32_t>& out) const {
  const int n = static_cast<int>(piece.size());
  if (n == 1) {
    out.push_back(byte_id_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  struct Sym {
    int32_t id;
    int prev, next;  // linked list of the live symbols; -1 at the ends
  };
  struct Cand {
    int32_t rank;
    int pos;
    int32_t left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Sym> sym(n);
  for (int i = 0; i < n; ++i)
    sym[i] = {byte_id_[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int pos) {
    if (pos < 0 || sym[pos].next < 0) return;
    auto it = merge_of_.find(pair_key(sym[pos].id, sym[sym[pos].next].id));
    if (it != merge_of_.end())
      heap.push({it->second.rank, pos, sym[pos].id, sym[sym[pos].next].id});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  std::vector<int> merged;
  while (!heap.empty()) {
    const int32_t rank = heap.top().rank;
    merged.clear();
    while (!heap.empty() && heap.top().rank == rank) {  // all occurrences, left to right
      Cand c = heap.top();
      heap.pop();
      int nx = sym[c.pos].next;
      if (sym[c.pos].id != c.left || nx < 0 || sym[nx].id != c.right) continue;  // stale
      sym[c.pos].id = merge_of_.at(pair_key(c.left, c.right)).result;
      sym[c.pos].next = sym[nx].next;
      if (sym[nx].next >= 0) sym[sym[nx].next].prev = c.pos;
      sym[nx].id = -1;
      merged.push_back(c.pos);
    }
    for (int pos : merged) {  // pairs the new symbols form with their neighbours
      push(sym[pos].prev);
      push(pos);
    }
  }
  for (int i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

void Tokenizer::encode_into(std::string_view text, Cache& cache, std::vector<int32_t>& out) const {
  for (size_t i = 0; i < text.size();) {
    size_t j = next_pretoken(text, i);
    std::string_view piece = text.substr(i, j - i);
    i = j;
    if (piece.size() == 1) {  // a lone byte ("\n", ",") is its own token
      out.push_back(byte_id_[static_cast<unsigned char>(piece[0])]);
      continue;
    }
    size_t n;
    if (const int32_t* ids = cache.find(piece, &n)) {
      out.insert(out.end(), ids, ids + n);
      continue;
    }
    size_t start = out.size();
    bpe(piece, out);
    cache.insert(piece, out.data() + start, out.size() - start);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  encode_into(text, cache_, out);
  return out;
}

std::vector<int32_t> Tokenizer::encode_with_special(std::string_view text) const {
  std::vector<int32_t> out;
  size_t start = 0;
  while (start < text.size()) {
    // The earliest special token in the rest of the text (the longest one on a tie).
    size_t best = std::string_view::npos, best_len = 0;
    int32_t best_id = -1;
    for (const auto& [name, id] : special_) {
      size_t p = text.find(name, start);
      if (p < best || (p == best && p != std::string_view::npos && name.size() > best_len))
        best = p, best_len = name.size(), best_id = id;
    }
    size_t stop = best == std::string_view::npos ? text.size() : best;
    encode_into(text.substr(start, stop - start), cache_, out);
    if (best == std::string_view::npos) break;
    out.push_back(best_id);
    start = best + best_len;
  }
  return out;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(
    const std::vector<std::string>& texts) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  parallel_for(static_cast<int64_t>(texts.size()), 2, [&](int64_t begin, int64_t end) {
    Cache cache;  // one per thread: the shared cache_ is not thread-safe
    for (int64_t i = begin; i < end; ++i) encode_into(texts[i], cache, out[i]);
  });
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    LORY_CHECK(ids[i] >= 0 && ids[i] < vocab_size(), "decode: ids[", i, "] = ", ids[i],
               " is out of range; expected an id in [0, ", vocab_size(), ")");
    out += tokens_[ids[i]];
  }
  return out;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  LORY_CHECK(id >= 0 && id < vocab_size(), "token_bytes: id ", id,
             " is out of range; expected an id in [0, ", vocab_size(), ")");
  return tokens_[id];
}

int32_t Tokenizer::special_id(const std::string& name) const {
  auto it = special_.find(name);
  LORY_CHECK(it != special_.end(), "tokenizer: no special token '", name, "' in this vocabulary (",
             special_.size(), " special tokens)");
  return it->second;
}

bool Tokenizer::is_special(int32_t id) const {
  for (const auto& kv : special_)
    if (kv.second == id) return true;
  return false;
}

}  // namespace lory
