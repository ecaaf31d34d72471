// Checker for the watch workload: watchers of the prefix "jw/" against the
// committed history, read after the run by a fresh watch from revision 1.
//
// History records (checker/history.h; keys "jw/<k>" are the integers k):
//   writers  f = put | delete | txn, key "jw", value = the response's header
//            revision when ok (null otherwise); events = the writes, each
//            [type, k, v]: type 1 = put of value v (values are unique), type 2
//            = delete (v = keys deleted when ok, -1 when unknown).
//   watchers process = watcher number, key "w<number>"; one record per
//            response or stream end:
//     watch-created   value [requested start, header revision, prev_kv 0|1,
//                     progress 0|1] — a (re-)created watch; start 0 = "now",
//                     i.e. header revision + 1
//     watch-events    value header revision; events, each an Event below
//     watch-progress  value header revision (a progress notification)
//     watch-canceled  value compact revision
//     watch-error     type fail: the stream ended (error, a member switch or
//                     a deliberate restart); the next record is a created one
//   committed        f = committed: responses of the final watch (prev_kv,
//                     from revision 1, on a healthy member after healing),
//                     events as watch-events; committed-end value = the
//                     revision of the sentinel put that ended the run.
// Event layout: [mod_revision, type (1 put, 2 delete), k, value,
//                create_revision, version, has_prev 0|1, prev value,
//                prev mod_revision].
//
// Guarantees checked (named as etcd's robustness tests and DESIGN.md):
//   ordered      a watcher's revisions never go back
//   unique       no (revision, key) event twice to one watcher
//   atomic       all events of a revision arrive in one response
//   reliable     no committed revision missing between a watcher's first
//                start and the last revision it knows of (last event or
//                progress notification)
//   resumable    a watch re-created at revision r gets nothing below r and
//                continues exactly at the first committed revision >= r
//   bookmarkable after a progress notification at R, no event <= R on that
//                stream
//   prev_kv      prev_kv present iff asked and the key existed, and equal to
//                the key's previous committed value and mod_revision
//   is_create    create_revision and version follow the committed history
//                (create_revision == mod_revision exactly when version 1)
//   agree        every watcher's event at a revision equals the committed
//                event (key, type, value): all watchers agree
//   acknowledged every ok write is the committed history's revision it
//                was acknowledged at; no committed value was never written
// The committed history itself goes through the same checks (as a watcher
// with prev_kv). No committed-end record means the verdict is unknown.
#ifndef RAFTKV_JEPSEN_CHECKER_WATCH_H_
#define RAFTKV_JEPSEN_CHECKER_WATCH_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jepsen/checker/history.h"
#include "jepsen/checker/linearizable.h"

namespace raftkv::jepsen {

// Key number of the sentinel "jw/999999" written after the run.
inline constexpr int64_t kWatchSentinelKey = 999999;

struct WatchEvent {
  int64_t revision = 0;
  int64_t type = 1;  // 1 put, 2 delete
  int64_t key = 0;
  int64_t value = 0;
  int64_t create_revision = 0;
  int64_t version = 0;
  bool has_prev = false;
  int64_t prev_value = 0;
  int64_t prev_mod_revision = 0;

  std::vector<int64_t> ToList() const;
  // REQUIRES: list.size() == 9 (else nullopt-like: returns false).
  static bool FromList(const std::vector<int64_t>& list, WatchEvent* out);
};

struct WatchReport {
  Verdict verdict = Verdict::kValid;
  // Guarantee name -> number of violations, and the first few described.
  std::map<std::string, int64_t> violations;
  std::map<std::string, std::vector<std::string>> examples;
  int64_t watchers = 0, incarnations = 0, events_received = 0,
          progress_notifications = 0;
  int64_t committed_revisions = 0, committed_events = 0, final_revision = 0;
  int64_t writes_ok = 0, writes_info = 0;
  // Put values of ok writes found nowhere in the committed history.
  int64_t acknowledged_lost = 0;
  std::string note;  // why unknown, if so
  std::string Describe() const;
};

WatchReport CheckWatch(const std::vector<Op>& history);

}  // namespace raftkv::jepsen

#endif  // RAFTKV_JEPSEN_CHECKER_WATCH_H_
