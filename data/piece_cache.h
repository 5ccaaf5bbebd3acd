// PieceCache: the encoder's memo from pre-token bytes to token ids. Open addressing (linear
// probing) over flat arenas: a lookup hashes the bytes once and touches one or two cache lines,
// several times faster than std::unordered_map<std::string, ...> with its node per entry.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace lory {

class PieceCache {
 public:
  // The ids cached for piece, or nullptr (then *n is untouched).
  const int32_t* find(std::string_view piece, size_t* n) const {
    if (slots_.empty()) return nullptr;
    const uint64_t h = hash(piece);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key_len == 0) return nullptr;  // empty slot: not present
      if (s.hash == h && s.key_len == piece.size() &&
          std::memcmp(keys_.data() + s.key_off, piece.data(), piece.size()) == 0) {
        *n = s.ids_len;
        return ids_.data() + s.ids_off;
      }
    }
  }

  // Adds piece -> ids (piece not present). Starts over when max_entries are held.
  void insert(std::string_view piece, const int32_t* ids, size_t n) {
    if (size_ >= kMaxEntries) clear();
    if (2 * (size_ + 1) > slots_.size()) grow();
    const uint64_t h = hash(piece);
    size_t i = h & mask_;
    while (slots_[i].key_len != 0) i = (i + 1) & mask_;
    slots_[i] = {h, keys_.size(), ids_.size(), static_cast<uint32_t>(piece.size()),
                 static_cast<uint32_t>(n)};
    keys_.append(piece);
    ids_.insert(ids_.end(), ids, ids + n);
    ++size_;
  }

  void clear() {
    slots_.clear();
    keys_.clear();
    ids_.clear();
    size_ = 0;
    mask_ = 0;
  }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kMaxEntries = size_t{1} << 20;
  struct Slot {
    uint64_t hash;
    size_t key_off, ids_off;
    uint32_t key_len, ids_len;  // key_len 0 marks an empty slot (pieces are never empty)
  };

  // 8 bytes at a time, multiply-xorshift mixing; quality is ample for a cache.
  static uint64_t hash(std::string_view s) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
    }
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = (h ^ w) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : 2 * old.size(), Slot{0, 0, 0, 0, 0});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.key_len == 0) continue;
      size_t i = s.hash & mask_;
      while (slots_[i].key_len != 0) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t size_ = 0, mask_ = 0;
};

}  // namespace lory
