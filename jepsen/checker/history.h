// History of a Jepsen-style run: one JSON object per line, one line per
// operation (invocation and completion together):
//
//   {"process":3,"f":"cas","key":"r5","value":[1,2],"type":"ok",
//    "start":1200345,"end":1210876}
//
// - process: the logical client; after an indeterminate (info) operation a
//   worker continues under a fresh process id, as in Jepsen, because the old
//   operation may still be in flight.
// - f: read | write | cas (register), add | read (set), transfer | read
//   (bank).
// - value: null, an integer, or a list of integers. A register read of a
//   missing key is null; a cas carries [expected, new].
// - type: ok (took effect, result known), fail (certainly did not take
//   effect), info (indeterminate: may or may not take effect, at any time
//   after its start — its completion is treated as at infinity).
// - start, end: nanoseconds since the run began (monotonic clock).
// - events: optional list of integer lists (watch and lease workloads: one
//   list per event, the layout is the workload's; see watch.h, lease.h).
// Extra fields (e.g. "node", "error") are skipped.
#ifndef RAFTKV_JEPSEN_CHECKER_HISTORY_H_
#define RAFTKV_JEPSEN_CHECKER_HISTORY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace raftkv::jepsen {

enum class OpType { kOk, kFail, kInfo };

struct Op {
  int64_t process = 0;
  std::string f;
  std::string key;
  // Empty and !has_value for null; one element for an integer; the list
  // otherwise (is_list distinguishes [5] from 5).
  std::vector<int64_t> value;
  bool has_value = false;
  bool is_list = false;
  OpType type = OpType::kOk;
  int64_t start = 0;
  int64_t end = 0;
  // "events" (empty when absent).
  std::vector<std::vector<int64_t>> events;
  // Line number in the history file (1-based), for reports.
  int64_t line = 0;

  // The scalar value. REQUIRES: has_value && !is_list.
  int64_t scalar() const { return value[0]; }
};

// Parses one line. INVALID_ARGUMENT names the problem.
absl::StatusOr<Op> ParseOp(absl::string_view line);

// Parses a whole history (blank lines are skipped).
absl::StatusOr<std::vector<Op>> ParseHistory(absl::string_view text);
absl::StatusOr<std::vector<Op>> ReadHistoryFile(const std::string& path);

// One line of JSON for `op` (the inverse of ParseOp, without extras).
std::string FormatOp(const Op& op);

const char* OpTypeName(OpType t);

// Appends one line per violated guarantee with its count, then its example
// lines indented (the report format of the watch and lease checkers).
void AppendViolations(
    const std::map<std::string, int64_t>& violations,
    const std::map<std::string, std::vector<std::string>>& examples,
    std::string* out);

}  // namespace raftkv::jepsen

#endif  // RAFTKV_JEPSEN_CHECKER_HISTORY_H_
