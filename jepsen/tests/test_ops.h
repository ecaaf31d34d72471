// Shorthand for writing histories in tests:
//   W(p, 1, 0, 10) — process p wrote 1 between t=0 and t=10 (ok)
//   R(p, 1, 20, 30), Rnil(...), Cas(p, 1, 2, ...), with Info()/Fail() to
//   change the outcome.
#ifndef RAFTKV_JEPSEN_TESTS_TEST_OPS_H_
#define RAFTKV_JEPSEN_TESTS_TEST_OPS_H_

#include <string>

#include "jepsen/checker/history.h"

namespace raftkv::jepsen::testing {

inline Op MakeOp(int64_t p, std::string f, std::vector<int64_t> v, bool list,
                 int64_t start, int64_t end, std::string key = "k") {
  Op op;
  op.process = p;
  op.f = std::move(f);
  op.key = std::move(key);
  op.has_value = list || !v.empty();
  op.is_list = list;
  op.value = std::move(v);
  op.start = start;
  op.end = end;
  return op;
}
inline Op W(int64_t p, int64_t v, int64_t s, int64_t e) {
  return MakeOp(p, "write", {v}, false, s, e);
}
inline Op R(int64_t p, int64_t v, int64_t s, int64_t e) {
  return MakeOp(p, "read", {v}, false, s, e);
}
inline Op Rnil(int64_t p, int64_t s, int64_t e) {
  return MakeOp(p, "read", {}, false, s, e);
}
inline Op Cas(int64_t p, int64_t from, int64_t to, int64_t s, int64_t e) {
  return MakeOp(p, "cas", {from, to}, true, s, e);
}
inline Op Info(Op op) {
  op.type = OpType::kInfo;
  return op;
}
inline Op Fail(Op op) {
  op.type = OpType::kFail;
  return op;
}
inline Op Key(Op op, std::string key) {
  op.key = std::move(key);
  return op;
}

}  // namespace raftkv::jepsen::testing

#endif  // RAFTKV_JEPSEN_TESTS_TEST_OPS_H_
