// The search behind the register linearizability checker (linearizable.h):
// does some order of a register's operations, each placed between its start
// and its end, explain every result?
//
// Wing & Gong's search with Lowe's memoization, as Porcupine's checkSingle
// does it, over the *determinate* operations (ok; optional = false): their
// calls and returns in a doubly linked list sorted by time, a call lifted
// when the model accepts it, a backtrack at a return whose operation is not
// lifted, and a cache of visited (linearized set, state) pairs.
//
// Optional operations (info: may take effect at any time after their start,
// or never) are not in the list. Lifting them eagerly, as the first version
// did, made the cache hold every subset of the pending ones: a kill-all that
// left 25 writes of one key indeterminate meant 2^25 sets, and keys ended
// "unknown". Instead they are linearized lazily, by three facts:
//
//  1. Late is always allowed. An optional op never returns, so no op is
//     forced after it; moving it later in a linearization breaks no
//     real-time order. It can sit right before the next op that observes
//     the state (a read, or a cas's compare); before a write, or at the
//     end, it changes nothing anyone sees and can be left out.
//  2. So optional ops are lifted only in a *chain* right before a
//     determinate read of v or cas from v, when the state s is not v: an
//     optional write (to u), then optional cas steps u -> ... -> v, visiting
//     no value twice (a cycle returns to a value already held and only
//     spends ops). A chain's ops must have started by the time the earliest
//     unlifted determinate op returned (the first return in the list), as
//     WGL requires of any lifted call.
//  3. Ops of one class (same f and values) that have both started are
//     interchangeable, so a chain takes the class's earliest unused op:
//     each class's used ops are a prefix in start order, and the cache sees
//     one set per count instead of one per subset.
//
// Before the search, an optional op whose result value v no op could read
// afterwards (no determinate read of v or cas from v ending after its
// start, no kept optional cas from v) is dropped: it could only ever be
// overwritten (fact 1). Optional reads carry no value and optional cas from
// v to v change nothing: dropped too. An optional cas that runs and fails
// its compare changes nothing, so a chain only uses one whose compare holds.
//
// Soundness and completeness against brute force: tests/linearizable_test.cc
// (RandomHistoriesAgreeWithBruteForce).
#ifndef RAFTKV_JEPSEN_CHECKER_REGISTER_SEARCH_H_
#define RAFTKV_JEPSEN_CHECKER_REGISTER_SEARCH_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "jepsen/checker/linearizable.h"

namespace raftkv::jepsen {

enum class Fn { kRead, kWrite, kCas };

struct SearchOp {
  Fn f = Fn::kRead;
  int64_t a = 0, b = 0;   // read/write: a; cas: a -> b
  bool optional = false;  // info: may take effect after start, or never
  int64_t start = 0, end = 0;
  int src = 0;  // index into the key's ops
};

struct SearchResult {
  Verdict verdict = Verdict::kValid;
  int blocked_op = -1;  // index into ops of the furthest unpassable return
  int64_t states = 0;   // cache insertions
  int64_t optional_dropped = 0;  // optional ops no one could observe
};

// Decides whether `ops` linearize from `initial`. kUnknown once more than
// `max_states` states were visited or at `deadline`.
SearchResult SearchRegister(const std::vector<SearchOp>& ops, int64_t initial,
                            int64_t max_states, absl::Time deadline);

}  // namespace raftkv::jepsen

#endif  // RAFTKV_JEPSEN_CHECKER_REGISTER_SEARCH_H_
