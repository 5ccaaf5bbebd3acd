// BPE training: count pre-tokens (in parallel), then merge the most frequent adjacent pair again
// and again, updating pair counts incrementally (only the words that hold the merged pair).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <queue>

#include "core/error.h"
#include "core/threads.h"
#include "data/pretokenize.h"
#include "data/tokenizer.h"

namespace lory {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Word {
  std::vector<int32_t> syms;
  int64_t count;
};

// A pair's frequency (summed over word counts) and the words it may occur in (a superset:
// entries go stale when a word's pair is merged away, and are skipped then).
struct PairInfo {
  int64_t count = 0;
  std::vector<int32_t> words;
};

// Heap order: the highest count first; ties go to the smaller left id, then right id.
struct Entry {
  int64_t count;
  int32_t a, b;
  bool operator<(const Entry& o) const {
    if (count != o.count) return count < o.count;
    return a != o.a ? a > o.a : b > o.b;
  }
};

// Pre-token frequencies over all texts. Each thread counts a contiguous block of texts; the
// blocks are summed, and the words are sorted by bytes, so the result is independent of the
// thread count.
std::vector<Word> count_words(const std::vector<std::string>& texts) {
  const int chunks = std::max(1, num_threads());
  std::vector<std::unordered_map<std::string, int64_t>> local(chunks);
  const int64_t n = static_cast<int64_t>(texts.size());
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t i = n * c / chunks; i < n * (c + 1) / chunks; ++i)
        for (std::string_view piece : pretokenize(texts[i])) ++local[c][std::string(piece)];
  });
  for (int c = 1; c < chunks; ++c) {
    for (auto& [piece, k] : local[c]) local[0][piece] += k;
    local[c].clear();
  }
  std::vector<std::pair<std::string, int64_t>> sorted(local[0].begin(), local[0].end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<Word> words(sorted.size());
  for (size_t w = 0; w < sorted.size(); ++w) {
    for (unsigned char b : sorted[w].first) words[w].syms.push_back(b);  // byte b has id b
    words[w].count = sorted[w].second;
  }
  return words;
}

}  // namespace

Tokenizer Tokenizer::train(const std::vector<std::string>& texts, int vocab_size,
                           const TrainOptions& options) {
  const int n_special = static_cast<int>(options.special.size());
  LORY_CHECK(vocab_size >= 256 + n_special, "tokenizer train: vocab_size ", vocab_size,
             " is too small; expected at least 256 bytes + ", n_special, " special tokens");
  auto t0 = Clock::now();
  std::vector<Word> words = count_words(texts);
  if (options.verbose)
    std::fprintf(stderr, "tokenizer train: %zu distinct pre-tokens (%.2f s)\n", words.size(),
                 seconds_since(t0));

  std::vector<std::string> tokens(256);
  for (int b = 0; b < 256; ++b) tokens[b] = std::string(1, static_cast<char>(b));
  std::unordered_map<std::string, int32_t> id_of;
  for (int b = 0; b < 256; ++b) id_of[tokens[b]] = b;

  std::unordered_map<uint64_t, PairInfo> pairs;
  for (int32_t w = 0; w < static_cast<int32_t>(words.size()); ++w) {
    const auto& s = words[w].syms;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      PairInfo& p = pairs[pair_key(s[i], s[i + 1])];
      p.count += words[w].count;
      if (p.words.empty() || p.words.back() != w) p.words.push_back(w);
    }
  }
  std::priority_queue<Entry> heap;
  for (const auto& [key, p] : pairs)
    heap.push({p.count, static_cast<int32_t>(key >> 32), static_cast<int32_t>(key)});

  std::vector<std::pair<int32_t, int32_t>> merges;
  std::vector<int32_t> stamp(words.size(), -1);  // last merge that touched each word
  std::vector<uint64_t> grown;                   // pairs whose count rose during one merge
  while (static_cast<int>(tokens.size()) + n_special < vocab_size) {
    // The best pair: heap entries may carry counts that have since fallen; refresh those.
    Entry best{0, 0, 0};
    while (!heap.empty()) {
      Entry e = heap.top();
      heap.pop();
      auto it = pairs.find(pair_key(e.a, e.b));
      int64_t now = it == pairs.end() ? 0 : it->second.count;
      if (now == e.count && now > 0) {
        best = e;
        break;
      }
      if (now > 0 && now < e.count) heap.push({now, e.a, e.b});
    }
    if (best.count == 0) break;  // nothing left to merge: a smaller vocabulary
    const int32_t a = best.a, b = best.b, m = static_cast<int32_t>(merges.size());
    std::string bytes = tokens[a] + tokens[b];
    auto [it_id, fresh] = id_of.emplace(bytes, static_cast<int32_t>(tokens.size()));
    if (fresh) tokens.push_back(bytes);
    const int32_t ab = it_id->second;
    merges.emplace_back(a, b);

    const std::vector<int32_t> where = std::move(pairs[pair_key(a, b)].words);
    pairs.erase(pair_key(a, b));
    grown.clear();
    auto add = [&](int32_t x, int32_t y, int64_t k, int32_t w) {
      PairInfo& p = pairs[pair_key(x, y)];
      p.count += k;
      if (k > 0) {
        if (p.words.empty() || p.words.back() != w) p.words.push_back(w);
        grown.push_back(pair_key(x, y));
      }
    };
    for (int32_t w : where) {
      if (stamp[w] == m) continue;
      stamp[w] = m;
      std::vector<int32_t>& s = words[w].syms;
      const int64_t k = words[w].count;
      size_t out = 0;  // s is rewritten in place: s[0, out) holds the merged prefix
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          // x a b y -> x ab y: the pairs (x,a) and (b,y) become (x,ab) and (ab,y).
          if (out > 0) add(s[out - 1], a, -k, w), add(s[out - 1], ab, k, w);
          if (i + 2 < s.size()) add(b, s[i + 2], -k, w), add(ab, s[i + 2], k, w);
          s[out++] = ab;
          i += 2;
        } else {
          s[out++] = s[i++];
        }
      }
      s.resize(out);
    }
    // (a,b) itself was erased above; the decrements of its overlapping copies ("a a a") may
    // have re-created it with count 0.
    pairs.erase(pair_key(a, b));
    std::sort(grown.begin(), grown.end());
    grown.erase(std::unique(grown.begin(), grown.end()), grown.end());
    for (uint64_t key : grown) {
      auto it = pairs.find(key);
      if (it != pairs.end() && it->second.count > 0)
        heap.push({it->second.count, static_cast<int32_t>(key >> 32), static_cast<int32_t>(key)});
    }
    if (options.verbose && (merges.size() % 1000 == 0))
      std::fprintf(stderr, "tokenizer train: %zu merges, vocabulary %zu (%.2f s)\n", merges.size(),
                   tokens.size() + n_special, seconds_since(t0));
  }
  std::unordered_map<std::string, int32_t> special;
  for (const std::string& name : options.special) {
    LORY_CHECK(!special.count(name), "tokenizer train: special token '", name, "' is listed twice");
    special[name] = static_cast<int32_t>(tokens.size());
    tokens.push_back(name);
  }
  if (options.verbose)
    std::fprintf(stderr, "tokenizer train: %zu merges, vocabulary %zu in %.2f s\n", merges.size(),
                 tokens.size(), seconds_since(t0));
  return from_parts(std::move(tokens), merges, special, "tokenizer train");
}

}  // namespace lory
