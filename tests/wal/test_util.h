// Helpers shared by the wal tests.
#ifndef RAFTKV_TESTS_WAL_TEST_UTIL_H_
#define RAFTKV_TESTS_WAL_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "raft/wal/durable_log.h"
#include "tests/wal/fault_env.h"

namespace raftkv::raft::wal::testing {

inline constexpr char kDir[] = "/wal";

inline Entry MakeEntry(uint64_t index, uint64_t term, size_t payload = 16) {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::string(payload, static_cast<char>('a' + index % 26)));
  return e;
}

// Entries [lo, hi) of `term`.
inline std::vector<Entry> MakeEntries(uint64_t lo, uint64_t hi, uint64_t term,
                                      size_t payload = 16) {
  std::vector<Entry> out;
  for (uint64_t i = lo; i < hi; ++i) out.push_back(MakeEntry(i, term, payload));
  return out;
}

inline std::unique_ptr<DurableLog> MustOpen(Env* env, Options options) {
  auto log = DurableLog::Open(env, kDir, options);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

// Paths of the segment files, oldest first.
inline std::vector<std::string> Segments(FaultEnv& env) {
  std::vector<std::string> out;
  const std::vector<std::string> names = env.ListDir(kDir).value();
  for (const std::string& name : names) {
    if (name.size() > 4 && name.substr(name.size() - 4) == ".wal") {
      out.push_back(std::string(kDir) + "/" + name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// All entries held, or a failure naming the status.
inline std::vector<Entry> AllEntries(const Storage& log) {
  auto entries = log.Entries(log.FirstIndex(), log.LastIndex() + 1, kNoLimit);
  EXPECT_TRUE(entries.ok()) << entries.status();
  return entries.ok() ? *entries : std::vector<Entry>{};
}

MATCHER_P(EqualsProto, want, "") {
  return arg.SerializeAsString() == want.SerializeAsString();
}

}  // namespace raftkv::raft::wal::testing

#endif  // RAFTKV_TESTS_WAL_TEST_UTIL_H_
