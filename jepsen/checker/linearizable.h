// Linearizability checker for a read / write / compare-and-set register.
//
// Algorithm (register_search.h): Wing & Gong's search with Lowe's
// memoization, as Porcupine does it, over the determinate operations: each
// becomes a call and a return entry in a doubly linked list sorted by time
// (a call precedes a return at the same instant, so touching operations
// count as concurrent); the search lifts a call whose operation the model
// accepts and backtracks at a return whose operation is not yet lifted; a
// cache of visited (linearized set, state) pairs prunes repeated subtrees.
// Indeterminate operations are linearized lazily, only in a chain right
// before a read or cas that needs the value they produce, one per class of
// interchangeable ones; those no later op could observe are dropped. So a
// key with dozens of indeterminate writes after a kill-all costs about what
// one without them does.
//
// Outcomes, as Jepsen treats them:
//   ok   — must be linearized between its start and end;
//   fail — certainly had no effect: dropped;
//   info — may take effect at any point after its start, or never: its return
//          sits at infinity. A read with info carries no value: dropped. When
//          the search has lifted every operation that is not info, the rest
//          are deemed never to have happened, and the history is valid.
//
// Histories are partitioned by key (registers are independent), and each key
// is checked alone. On failure the checker finds the operation whose return
// no linearization can pass, then shrinks backwards to the smallest window of
// operations ending there that is non-linearizable from *any* initial value —
// a self-contained counter-example a human can read.
#ifndef RAFTKV_JEPSEN_CHECKER_LINEARIZABLE_H_
#define RAFTKV_JEPSEN_CHECKER_LINEARIZABLE_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "jepsen/checker/history.h"

namespace raftkv::jepsen {

// The register's value when the key does not exist (a read returning null).
inline constexpr int64_t kNil = std::numeric_limits<int64_t>::min();

enum class Verdict { kValid, kInvalid, kUnknown };
const char* VerdictName(Verdict v);

struct LinearizabilityOptions {
  // Per key: give up with kUnknown after visiting this many states.
  int64_t max_states = 20'000'000;
  // Whole check: give up with kUnknown after this long.
  absl::Duration timeout = absl::Seconds(120);
  // Per key: give up with kUnknown after this long (or at `timeout`, if
  // sooner).
  absl::Duration key_timeout = absl::Seconds(10);
  // Stop after this many invalid keys (the verdict is settled; each
  // counter-example costs a window search).
  int max_invalid_keys = 3;
  // Largest counter-example window to search for (larger ones are reported
  // as the whole prefix up to the failing operation).
  int max_window = 400;
};

struct KeyResult {
  std::string key;
  Verdict verdict = Verdict::kValid;
  int64_t ops = 0;             // operations considered (fail dropped)
  int64_t states_visited = 0;  // cache insertions
  // kInvalid: the operation no linearization can complete, and the smallest
  // window of operations (sorted by start) that cannot be linearized from any
  // initial value. An operation marked optional in `window_optional` returned
  // after the failing one, so the window may place it or leave it out.
  Op failing;
  std::vector<Op> window;
  std::vector<bool> window_optional;
  bool window_any_initial = true;  // false: checked from the nil value
};

struct LinearizabilityReport {
  Verdict verdict = Verdict::kValid;
  int64_t keys = 0;
  int64_t ops = 0;
  std::vector<KeyResult> failures;  // invalid and unknown keys
  absl::Duration elapsed;
  bool stopped_early = false;  // max_invalid_keys reached
  // A human-readable explanation (counter-examples included).
  std::string Describe() const;
};

// Checks the ops of one register (all with the same key), starting from
// `initial` (kNil: the key does not exist).
KeyResult CheckRegisterKey(const std::vector<Op>& ops,
                           const LinearizabilityOptions& options = {},
                           int64_t initial = kNil);

// Partitions `history` by key and checks every key. Ops whose f is not read,
// write or cas are ignored.
LinearizabilityReport CheckRegister(const std::vector<Op>& history,
                                    const LinearizabilityOptions& options = {});

}  // namespace raftkv::jepsen

#endif  // RAFTKV_JEPSEN_CHECKER_LINEARIZABLE_H_
