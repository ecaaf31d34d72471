// Invariant checks. A broken invariant is a bug, not an expected failure: the
// process prints the offending values and aborts (STYLE.md, "two error
// tiers"). Expected failures use absl::Status instead.
#ifndef RAFTKV_RAFT_CHECK_H_
#define RAFTKV_RAFT_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace raftkv::internal {

[[noreturn]] inline void CheckFailed(const char* file, int line,
                                     const std::string& what) {
  std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what.c_str());
  std::fflush(stderr);
  std::abort();
}

template <typename A, typename B>
std::string CheckOpMessage(const char* expr, const A& a, const B& b) {
  std::ostringstream out;
  out << expr << " (" << a << " vs. " << b << ")";
  return out.str();
}

}  // namespace raftkv::internal

#define RAFTKV_CHECK(cond)                                                   \
  do {                                                                       \
    if (!(cond)) ::raftkv::internal::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

#define RAFTKV_CHECK_OP(op, a, b)                                              \
  do {                                                                         \
    const auto& raftkv_check_a = (a);                                          \
    const auto& raftkv_check_b = (b);                                          \
    if (!(raftkv_check_a op raftkv_check_b))                                   \
      ::raftkv::internal::CheckFailed(                                         \
          __FILE__, __LINE__,                                                  \
          ::raftkv::internal::CheckOpMessage(#a " " #op " " #b,                \
                                             raftkv_check_a, raftkv_check_b)); \
  } while (0)

#define RAFTKV_CHECK_EQ(a, b) RAFTKV_CHECK_OP(==, a, b)
#define RAFTKV_CHECK_NE(a, b) RAFTKV_CHECK_OP(!=, a, b)
#define RAFTKV_CHECK_LE(a, b) RAFTKV_CHECK_OP(<=, a, b)
#define RAFTKV_CHECK_LT(a, b) RAFTKV_CHECK_OP(<, a, b)
#define RAFTKV_CHECK_GE(a, b) RAFTKV_CHECK_OP(>=, a, b)
#define RAFTKV_CHECK_GT(a, b) RAFTKV_CHECK_OP(>, a, b)

#endif  // RAFTKV_RAFT_CHECK_H_
