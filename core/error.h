// Errors: LORY_CHECK for mistakes a caller can make (throws lory::Error with a message naming
// the op, the argument, the value and what was expected); LORY_ASSERT for internal invariants.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

namespace lory {

// The one exception type a user of the library sees. what() is a complete sentence.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] inline void assert_fail(const char* cond, const char* file, int line,
                                     const std::string& msg) {
  std::fprintf(stderr, "lory: internal error at %s:%d: assertion '%s' failed%s%s\n", file, line,
               cond, msg.empty() ? "" : ": ", msg.c_str());
  std::abort();
}
}  // namespace detail

}  // namespace lory

// LORY_CHECK(n > 0, "matmul: a has ", n, " columns but b has ", m, " rows; expected equal")
#define LORY_CHECK(cond, ...)                                      \
  do {                                                             \
    if (!(cond)) throw ::lory::Error(::lory::detail::concat(__VA_ARGS__)); \
  } while (0)

#define LORY_FAIL(...) throw ::lory::Error(::lory::detail::concat(__VA_ARGS__))

// Internal invariants: a failure is a bug in lory.cpp, never the caller's fault.
#define LORY_ASSERT(cond, ...)                                                         \
  do {                                                                                 \
    if (!(cond))                                                                       \
      ::lory::detail::assert_fail(#cond, __FILE__, __LINE__,                           \
                                  ::lory::detail::concat("", ##__VA_ARGS__)); \
  } while (0)
