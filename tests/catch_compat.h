// Catch2 v2/v3 compatibility: tests include this header and nothing else from Catch2.
#pragma once
#if LORY_CATCH2_V3
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#endif

#include <string>

// A matcher for "the message contains this text" (v2 calls it Contains, v3 ContainsSubstring;
// v3's Contains matches range elements instead).
inline auto HasSubstr(const std::string& text) {
#if LORY_CATCH2_V3
  return Catch::Matchers::ContainsSubstring(text);
#else
  return Catch::Matchers::Contains(text);
#endif
}

#include <cstdio>
#include <cstdlib>

// Skips the rest of this test executable (CTest reports it as skipped: exit code 77 is the
// tests' SKIP_RETURN_CODE). For tests that need something absent here: a GPU, PyTorch.
#define LORY_SKIP_ALL(reason)                                   \
  do {                                                          \
    std::fprintf(stderr, "SKIPPED: %s\n", std::string(reason).c_str()); \
    std::exit(77);                                              \
  } while (0)
