// GPT-2 pre-tokenization: splits text into the pieces BPE works inside, as the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// does, written by hand over decoded UTF-8 (std::regex has no \p{L}).
//
//   std::string_view text = "Hello  world's";
//   for (size_t i = 0; i < text.size();) {
//     size_t j = next_pretoken(text, i);   // "Hello", " ", " world", "'s"
//     ...; i = j;
//   }
//
// Pieces are contiguous byte ranges that cover the text exactly, so any byte string (invalid
// UTF-8 too: each invalid byte is one "other" character) splits and re-joins losslessly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace lory {

// The four classes the pattern distinguishes. letter = Unicode L*, number = N*,
// space = White_Space (\s), other = everything else (marks, punctuation, symbols, emoji).
enum class CharClass : uint8_t { letter, number, space, other };

CharClass char_class(uint32_t cp);

// Decodes the UTF-8 character at text[pos] (pos < text.size()): returns its byte length and
// stores the code point in *cp. Invalid, overlong, surrogate or truncated sequences decode as
// one byte with *cp = 0xFFFD (class other).
int utf8_decode(std::string_view text, size_t pos, uint32_t* cp);

// The end (exclusive) of the pre-token that starts at byte pos (pos < text.size()).
size_t next_pretoken(std::string_view text, size_t pos);

// All pre-tokens of text, in order (views into text).
std::vector<std::string_view> pretokenize(std::string_view text);

}  // namespace lory
