// GPT-2 pre-tokenizer: UTF-8 decoding, letter/number/space/other classes (tables generated from
// Unicode data in unicode_tables.cpp), and the pattern's alternatives in order.
#include "data/pretokenize.h"

#include <algorithm>

namespace lory {
namespace unicode_tables {
extern const uint32_t letter_ranges[][2];
extern const int letter_ranges_size;
extern const uint32_t number_ranges[][2];
extern const int number_ranges_size;
}  // namespace unicode_tables

namespace {

bool in_ranges(uint32_t cp, const uint32_t (*ranges)[2], int size) {
  // First range whose end is >= cp; cp is inside it when its start is <= cp.
  const uint32_t(*it)[2] = std::lower_bound(
      ranges, ranges + size, cp, [](const uint32_t(&r)[2], uint32_t c) { return r[1] < c; });
  return it != ranges + size && (*it)[0] <= cp;
}

// Unicode White_Space, which is what \s means in the regex GPT-2 was trained with. (JavaScript's
// \s adds U+FEFF; Python's str.isspace adds U+001C..U+001F. Both are "other" here.)
bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

CharClass class_at(std::string_view text, size_t pos, int* len) {
  uint32_t cp;
  *len = utf8_decode(text, pos, &cp);
  return char_class(cp);
}

// End of the run of characters of class cls that starts at pos.
size_t run_end(std::string_view text, size_t pos, CharClass cls) {
  int len;
  while (pos < text.size() && class_at(text, pos, &len) == cls) pos += len;
  return pos;
}

}  // namespace

CharClass char_class(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CharClass::letter;
    if (cp >= '0' && cp <= '9') return CharClass::number;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CharClass::space;
    return CharClass::other;
  }
  if (is_white_space(cp)) return CharClass::space;
  if (in_ranges(cp, unicode_tables::letter_ranges, unicode_tables::letter_ranges_size))
    return CharClass::letter;
  if (in_ranges(cp, unicode_tables::number_ranges, unicode_tables::number_ranges_size))
    return CharClass::number;
  return CharClass::other;
}

int utf8_decode(std::string_view text, size_t pos, uint32_t* cp) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  unsigned char c0 = s[pos];
  if (c0 < 0x80) {
    *cp = c0;
    return 1;
  }
  int len;
  uint32_t v, min;
  if ((c0 & 0xE0) == 0xC0) {
    len = 2, v = c0 & 0x1F, min = 0x80;
  } else if ((c0 & 0xF0) == 0xE0) {
    len = 3, v = c0 & 0x0F, min = 0x800;
  } else if ((c0 & 0xF8) == 0xF0) {
    len = 4, v = c0 & 0x07, min = 0x10000;
  } else {
    *cp = 0xFFFD;  // a continuation byte or 0xF8..0xFF where a character should start
    return 1;
  }
  if (pos + len > text.size()) len = 0;
  for (int k = 1; k < len; ++k) {
    unsigned char c = s[pos + k];
    if ((c & 0xC0) != 0x80) {
      len = 0;
      break;
    }
    v = (v << 6) | (c & 0x3F);
  }
  if (len == 0 || v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
    *cp = 0xFFFD;
    return 1;
  }
  *cp = v;
  return len;
}

size_t next_pretoken(std::string_view text, size_t pos) {
  const size_t n = text.size();
  // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive, tried before everything else)
  if (text[pos] == '\'' && pos + 1 < n) {
    char a = text[pos + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
    if (pos + 2 < n) {
      char b = text[pos + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return pos + 3;
    }
  }
  int len;
  CharClass cls = class_at(text, pos, &len);
  // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': one optional U+0020, then a run of one class.
  if (text[pos] == ' ' && pos + 1 < n) {
    int len2;
    CharClass next = class_at(text, pos + 1, &len2);
    if (next != CharClass::space) return run_end(text, pos + 1 + len2, next);
  }
  if (cls != CharClass::space) return run_end(text, pos + len, cls);
  // '\s+(?!\S)': a whitespace run that is followed by a non-space gives back its last character
  // (so " world" keeps its space); '\s+': a single whitespace character before a non-space.
  size_t end = pos + len, last = pos;
  while (end < n) {
    int l;
    if (class_at(text, end, &l) != CharClass::space) break;
    last = end;
    end += l;
  }
  if (end == n || last == pos) return end;
  return last;
}

std::vector<std::string_view> pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < text.size();) {
    size_t j = next_pretoken(text, i);
    pieces.push_back(text.substr(i, j - i));
    i = j;
  }
  return pieces;
}

}  // namespace lory
