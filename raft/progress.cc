#include "raft/progress.h"

#include <algorithm>

#include "raft/check.h"

namespace raftkv::raft {

void Inflights::Add(uint64_t index) {
  RAFTKV_CHECK(!Full());
  RAFTKV_CHECK(indexes_.empty() || indexes_.back() < index);
  indexes_.push_back(index);
}

void Inflights::FreeLE(uint64_t index) {
  while (!indexes_.empty() && indexes_.front() <= index) indexes_.pop_front();
}

void Progress::BecomeProbe() {
  // Coming back from a snapshot, the follower has at least the snapshot.
  if (state == State::kSnapshot) {
    next_index = std::max(match_index + 1, pending_snapshot + 1);
  } else {
    next_index = match_index + 1;
  }
  state = State::kProbe;
  pending_snapshot = 0;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeReplicate() {
  state = State::kReplicate;
  next_index = match_index + 1;
  pending_snapshot = 0;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state = State::kSnapshot;
  pending_snapshot = snapshot_index;
  probe_sent = false;
  inflights.Reset();
}

bool Progress::MaybeUpdate(uint64_t index) {
  bool updated = false;
  if (match_index < index) {
    match_index = index;
    updated = true;
    probe_sent = false;
  }
  next_index = std::max(next_index, index + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == State::kReplicate) {
    // Pipelined sends past match_index may be rejected; only a rejection
    // above the known match is news.
    if (rejected <= match_index) return false;
    next_index = match_index + 1;
    return true;
  }
  // In probe state only the outstanding probe's answer counts.
  if (next_index == 0 || next_index - 1 != rejected) return false;
  next_index = std::max(std::min(rejected, match_hint + 1), match_index + 1);
  probe_sent = false;
  return true;
}

bool Progress::IsPaused() const {
  switch (state) {
    case State::kProbe:
      return probe_sent;
    case State::kReplicate:
      return inflights.Full();
    case State::kSnapshot:
      return true;
  }
  return true;
}

std::string Progress::StateName() const {
  switch (state) {
    case State::kProbe:
      return "probe";
    case State::kReplicate:
      return "replicate";
    case State::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

}  // namespace raftkv::raft
