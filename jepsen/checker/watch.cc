#include "jepsen/checker/watch.h"

#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace raftkv::jepsen {
namespace {

constexpr size_t kExamples = 5;
constexpr int64_t kPut = 1, kDelete = 2;

// What the committed history says one event must look like.
struct Truth {
  WatchEvent event;
  bool existed = false;  // the key existed before this revision
  int64_t create_revision = 0, version = 0, prev_value = 0, prev_mod = 0;
};

// One watcher's records, or the committed stream's.
struct Stream {
  std::string name;
  bool committed = false;
  std::vector<const Op*> records;
};

class Checker {
 public:
  explicit Checker(WatchReport* report) : r_(*report) {}

  void Flag(const std::string& guarantee, std::string what) {
    if (++r_.violations[guarantee] <= static_cast<int64_t>(kExamples)) {
      r_.examples[guarantee].push_back(std::move(what));
    }
  }

  // Reads the committed stream into committed_ and truth_, checking its
  // own is_create and prev_kv consistency.
  void BuildTruth(const Stream& s) {
    for (const Op* op : s.records) {
      for (const auto& list : op->events) {
        WatchEvent e;
        if (!WatchEvent::FromList(list, &e) || e.key == kWatchSentinelKey) {
          continue;
        }
        committed_[e.revision].push_back(e);
        if (e.type == kPut) value_revision_[e.value] = e.revision;
      }
    }
    struct KeyState {
      int64_t value, mod, create, version;
    };
    std::unordered_map<int64_t, KeyState> state;
    for (const auto& [rev, events] : committed_) {
      ++r_.committed_revisions;
      for (const WatchEvent& e : events) {
        ++r_.committed_events;
        Truth t;
        t.event = e;
        auto it = state.find(e.key);
        t.existed = it != state.end();
        if (t.existed) {
          t.prev_value = it->second.value;
          t.prev_mod = it->second.mod;
        }
        if (e.type == kPut) {
          t.create_revision = t.existed ? it->second.create : rev;
          t.version = t.existed ? it->second.version + 1 : 1;
          state[e.key] = {e.value, rev, t.create_revision, t.version};
        } else {
          if (!t.existed) {
            Flag("agree", absl::StrCat("committed history deletes absent key ",
                                       e.key, " at revision ", rev));
          }
          state.erase(e.key);
        }
        if (!truth_.emplace(std::pair{rev, e.key}, t).second) {
          Flag("unique", absl::StrCat("committed history has key ", e.key,
                                      " twice at revision ", rev));
        }
      }
    }
  }

  void CheckStream(const Stream& s);
  void CheckAcknowledged(const std::vector<Op>& history);
  // Without the committed history: what the watchers and the writers saw
  // must still be one history (split-brain evidence).
  void CheckWatchersAgree(const std::map<int64_t, Stream>& watchers);
  void CheckAcknowledgedRevisionsDistinct(const std::vector<Op>& history);

  int64_t final_revision = 0;

 private:
  void CheckEvent(const std::string& name, const WatchEvent& e, bool prev_kv);

  WatchReport& r_;
  std::map<int64_t, std::vector<WatchEvent>> committed_;
  std::map<std::pair<int64_t, int64_t>, Truth> truth_;
  // Put value -> its committed revision (values are unique).
  std::unordered_map<int64_t, int64_t> value_revision_;
};

std::string Show(const WatchEvent& e) {
  return absl::StrCat("[", absl::StrJoin(e.ToList(), ","), "]");
}

// Content checks of one received event against the committed history.
void Checker::CheckEvent(const std::string& name, const WatchEvent& e,
                         bool prev_kv) {
  auto it = truth_.find({e.revision, e.key});
  if (it == truth_.end()) {
    Flag("agree", absl::StrCat(name, " got ", Show(e),
                               ", not in the committed history"));
    return;
  }
  const Truth& t = it->second;
  if (e.type != t.event.type || (e.type == kPut && e.value != t.event.value)) {
    Flag("agree",
         absl::StrCat(name, " got ", Show(e), ", committed ", Show(t.event)));
    return;
  }
  if (e.type == kPut &&
      (e.create_revision != t.create_revision || e.version != t.version ||
       (e.create_revision == e.revision) != (e.version == 1))) {
    Flag("is_create",
         absl::StrCat(name, " got ", Show(e), ", expected create_revision ",
                      t.create_revision, " version ", t.version));
  }
  const bool want_prev = prev_kv && t.existed;
  if (e.has_prev != want_prev ||
      (want_prev &&
       (e.prev_value != t.prev_value || e.prev_mod_revision != t.prev_mod))) {
    Flag("prev_kv",
         absl::StrCat(name, " got ", Show(e), ", expected ",
                      want_prev ? absl::StrCat("prev value ", t.prev_value,
                                               " mod_revision ", t.prev_mod)
                                : "no prev_kv"));
  }
}

void Checker::CheckStream(const Stream& s) {
  struct Incarnation {
    int64_t start, first_event = -1;
  };
  std::vector<Incarnation> incs;
  if (s.committed) incs.push_back({1});
  bool prev_kv = s.committed;
  int64_t last_rev = 0, last_known = 0, progress = 0;
  std::set<std::pair<int64_t, int64_t>> seen;
  std::set<int64_t> seen_revs;
  for (const Op* op : s.records) {
    if (op->f == "watch-created" && op->value.size() == 4) {
      const int64_t start = op->value[0] != 0 ? op->value[0] : op->value[1] + 1;
      incs.push_back({start});
      prev_kv = op->value[2] != 0;
      progress = 0;
      last_known = std::max(last_known, start - 1);
      ++r_.incarnations;
      continue;
    }
    if (op->f == "watch-progress" && op->has_value) {
      progress = std::max(progress, op->scalar());
      last_known = std::max(last_known, progress);
      ++r_.progress_notifications;
      continue;
    }
    if (op->f != "watch-events" && op->f != "committed") continue;
    if (incs.empty()) {
      Flag("resumable", absl::StrCat(s.name, " got events before created"));
      continue;
    }
    Incarnation& inc = incs.back();
    std::map<int64_t, int64_t> per_revision;
    for (const auto& list : op->events) {
      WatchEvent e;
      if (!WatchEvent::FromList(list, &e)) {
        Flag("agree",
             absl::StrCat(s.name, " malformed event, line ", op->line));
        continue;
      }
      if (e.key == kWatchSentinelKey) continue;
      if (!s.committed) ++r_.events_received;
      ++per_revision[e.revision];
      if (e.revision < inc.start) {
        Flag("resumable", absl::StrCat(s.name, " re-created at revision ",
                                       inc.start, " got ", Show(e)));
        continue;
      }
      if (!seen.insert({e.revision, e.key}).second) {
        Flag("unique", absl::StrCat(s.name, " got ", Show(e), " twice"));
        continue;
      }
      if (e.revision < last_rev) {
        Flag("ordered", absl::StrCat(s.name, " got revision ", e.revision,
                                     " after ", last_rev));
      }
      if (e.revision <= progress) {
        Flag("bookmarkable",
             absl::StrCat(s.name, " got ", Show(e),
                          " after a progress notification at ", progress));
      }
      if (!s.committed) CheckEvent(s.name, e, prev_kv);
      seen_revs.insert(e.revision);
      last_rev = std::max(last_rev, e.revision);
      last_known = std::max(last_known, last_rev);
      if (inc.first_event < 0) inc.first_event = e.revision;
    }
    for (const auto& [rev, n] : per_revision) {
      auto it = committed_.find(rev);
      const int64_t want =
          it == committed_.end() ? 0 : static_cast<int64_t>(it->second.size());
      if (n != want) {
        Flag("atomic", absl::StrCat(s.name, " got ", n, " of the ", want,
                                    " events of revision ", rev,
                                    " in one response (line ", op->line, ")"));
      }
    }
  }
  if (s.committed || incs.empty()) return;
  const int64_t hi = std::min(last_known, final_revision);
  for (auto it = committed_.lower_bound(incs.front().start);
       it != committed_.end() && it->first <= hi; ++it) {
    const int64_t rev = it->first;
    if (seen_revs.contains(rev)) continue;
    bool at_resume = false;
    for (size_t j = 1; j < incs.size(); ++j) {
      at_resume =
          at_resume || (incs[j].start <= rev && rev < incs[j].first_event);
    }
    Flag(at_resume ? "resumable" : "reliable",
         absl::StrCat(s.name, " missed revision ", rev, " (watched ",
                      incs.front().start, "..", hi, ")"));
  }
}

void Checker::CheckWatchersAgree(const std::map<int64_t, Stream>& watchers) {
  struct Seen {
    const std::string* name;
    WatchEvent event;
  };
  std::map<std::pair<int64_t, int64_t>, Seen> first;  // (revision, key)
  for (const auto& [_, s] : watchers) {
    for (const Op* op : s.records) {
      if (op->f != "watch-events") continue;
      for (const auto& list : op->events) {
        WatchEvent e;
        if (!WatchEvent::FromList(list, &e) || e.key == kWatchSentinelKey) {
          continue;
        }
        auto [it, inserted] =
            first.emplace(std::pair{e.revision, e.key}, Seen{&s.name, e});
        const WatchEvent& f = it->second.event;
        // prev_kv is per watch; the event itself must be the same.
        if (!inserted && (f.type != e.type || f.value != e.value ||
                          f.create_revision != e.create_revision ||
                          f.version != e.version)) {
          Flag("agree", absl::StrCat(s.name, " got ", Show(e), ", ",
                                     *it->second.name, " got ", Show(f)));
        }
      }
    }
  }
}

void Checker::CheckAcknowledgedRevisionsDistinct(
    const std::vector<Op>& history) {
  std::unordered_map<int64_t, const Op*> by_revision;
  for (const Op& op : history) {
    if ((op.f != "put" && op.f != "delete" && op.f != "txn") ||
        op.type != OpType::kOk || !op.has_value) {
      continue;
    }
    bool writes = false;  // a delete of nothing creates no revision
    for (const auto& w : op.events) {
      writes = writes || (w.size() == 3 && (w[0] == kPut || w[2] > 0));
    }
    if (!writes) continue;
    auto [it, inserted] = by_revision.emplace(op.scalar(), &op);
    if (!inserted) {
      Flag("acknowledged",
           absl::StrCat(op.f, " (line ", op.line, ") and ", it->second->f,
                        " (line ", it->second->line,
                        ") were both acknowledged at revision ", op.scalar()));
    }
  }
}

void Checker::CheckAcknowledged(const std::vector<Op>& history) {
  std::unordered_set<int64_t> attempted;
  for (const Op& op : history) {
    if (op.f != "put" && op.f != "delete" && op.f != "txn") continue;
    for (const auto& w : op.events) {
      if (w.size() == 3 && w[0] == kPut) attempted.insert(w[2]);
    }
    if (op.type == OpType::kInfo) ++r_.writes_info;
    if (op.type != OpType::kOk) continue;
    ++r_.writes_ok;
    std::vector<std::pair<int64_t, int64_t>> effects;  // (key, value|-1)
    for (const auto& w : op.events) {
      if (w.size() != 3) continue;
      if (w[0] == kPut) effects.push_back({w[1], w[2]});
      if (w[0] == kDelete && w[2] > 0) effects.push_back({w[1], -1});
    }
    if (effects.empty()) continue;
    const std::string what =
        absl::StrCat(op.f, " (line ", op.line, ") acknowledged at revision ",
                     op.has_value ? op.scalar() : -1);
    // Where the write's put values really are: a wrong revision in the
    // reply, or lost.
    std::string where;
    for (const auto& [k, v] : effects) {
      if (v < 0) continue;
      auto at = value_revision_.find(v);
      if (at == value_revision_.end()) {
        ++r_.acknowledged_lost;
        absl::StrAppend(&where, "; value ", v, " is lost");
      } else if (!op.has_value || at->second != op.scalar()) {
        absl::StrAppend(&where, "; value ", v, " is at revision ", at->second);
      }
    }
    auto it = op.has_value ? committed_.find(op.scalar()) : committed_.end();
    if (it == committed_.end()) {
      Flag("acknowledged", what + ": no such committed revision" + where);
      continue;
    }
    bool match = it->second.size() == effects.size();
    for (const auto& [k, v] : effects) {
      bool found = false;
      for (const WatchEvent& e : it->second) {
        found = found ||
                (e.key == k &&
                 (v < 0 ? e.type == kDelete : e.type == kPut && e.value == v));
      }
      match = match && found;
    }
    if (!match) {
      Flag("acknowledged",
           what + ": the committed revision holds other events" + where);
    }
  }
  for (const auto& [rev, events] : committed_) {
    for (const WatchEvent& e : events) {
      if (e.type == kPut && !attempted.contains(e.value)) {
        Flag("acknowledged",
             absl::StrCat("committed ", Show(e), " was never written"));
      }
    }
  }
}

}  // namespace

std::vector<int64_t> WatchEvent::ToList() const {
  return {revision,
          type,
          key,
          value,
          create_revision,
          version,
          has_prev ? 1 : 0,
          prev_value,
          prev_mod_revision};
}

bool WatchEvent::FromList(const std::vector<int64_t>& l, WatchEvent* out) {
  if (l.size() != 9) return false;
  *out = WatchEvent{l[0], l[1], l[2], l[3], l[4], l[5], l[6] != 0, l[7], l[8]};
  return true;
}

WatchReport CheckWatch(const std::vector<Op>& history) {
  WatchReport r;
  Checker c(&r);
  Stream committed{"committed", true, {}};
  std::map<int64_t, Stream> watchers;
  bool complete = false;
  for (const Op& op : history) {
    if (op.f == "committed") committed.records.push_back(&op);
    if (op.f == "committed-end" && op.has_value) {
      complete = true;
      c.final_revision = op.scalar();
    }
    if (op.f.rfind("watch-", 0) == 0) {
      Stream& w = watchers[op.process];
      w.name = absl::StrCat("w", op.process);
      w.records.push_back(&op);
    }
  }
  r.watchers = static_cast<int64_t>(watchers.size());
  r.final_revision = c.final_revision;
  c.BuildTruth(committed);
  c.CheckStream(committed);
  if (complete) {
    for (const auto& [_, w] : watchers) c.CheckStream(w);
    c.CheckAcknowledged(history);
  } else {
    r.note = "no complete committed history (final watch failed)";
    c.CheckWatchersAgree(watchers);
    c.CheckAcknowledgedRevisionsDistinct(history);
  }
  if (!r.violations.empty()) {
    r.verdict = Verdict::kInvalid;
  } else if (!complete) {
    r.verdict = Verdict::kUnknown;
  }
  return r;
}

std::string WatchReport::Describe() const {
  std::string out = absl::StrCat(
      "watch: ", VerdictName(verdict), " (", watchers, " watchers, ",
      incarnations, " watches created, ", events_received, " events received, ",
      progress_notifications, " progress notifications; committed ",
      committed_events, " events in ", committed_revisions, " revisions up to ",
      final_revision, "; writes ok ", writes_ok, ", info ", writes_info,
      acknowledged_lost > 0
          ? absl::StrCat(", acknowledged put values lost ", acknowledged_lost)
          : "",
      note.empty() ? "" : "; ", note, ")\n");
  AppendViolations(violations, examples, &out);
  return out;
}

}  // namespace raftkv::jepsen
