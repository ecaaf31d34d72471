// Construction, restart, roles and terms, and the Step dispatch of the Raft
// core. See raft_impl.h for how the rules are split across files.
#include "raft/raft.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/check.h"
#include "raft/raft_impl.h"

namespace raftkv::raft {

using raftpb::Message;

// ---------------------------------------------------------------------------
// Raft (the public facade)

absl::StatusOr<std::unique_ptr<Raft>> Raft::Create(const Config& config) {
  if (config.id == 0) return absl::InvalidArgumentError("raft: id must be > 0");
  if (config.storage == nullptr) {
    return absl::InvalidArgumentError("raft: storage is required");
  }
  if (config.heartbeat_tick <= 0 ||
      config.election_tick <= config.heartbeat_tick) {
    return absl::InvalidArgumentError(
        "raft: election_tick must be greater than heartbeat_tick > 0");
  }
  if (config.max_inflight_msgs <= 0) {
    return absl::InvalidArgumentError("raft: max_inflight_msgs must be > 0");
  }
  auto impl = std::make_unique<Impl>(config);
  if (absl::Status s = impl->Restore(); !s.ok()) return s;
  return std::unique_ptr<Raft>(new Raft(std::move(impl)));
}

Raft::Raft(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Raft::~Raft() = default;

absl::Status Raft::Bootstrap(const std::vector<uint64_t>& voters) {
  return impl_->Bootstrap(voters);
}
void Raft::Tick() { impl_->Tick(); }
void Raft::Campaign() { impl_->Hup(/*transfer=*/false); }
absl::Status Raft::Step(const Message& m) { return impl_->Step(m); }
absl::Status Raft::Propose(std::string data) {
  std::vector<raftpb::Entry> entries(1);
  entries[0].set_data(std::move(data));
  return impl_->Propose(std::move(entries));
}
absl::Status Raft::ProposeConfChange(const raftpb::ConfChange& cc) {
  return impl_->ProposeConfChange(cc);
}
void Raft::ReadIndex(std::string ctx) { impl_->ReadIndex(std::move(ctx)); }
void Raft::TransferLeadership(uint64_t transferee) {
  impl_->TransferLeadership(transferee);
}
void Raft::ReportUnreachable(uint64_t id) { impl_->ReportUnreachable(id); }
void Raft::ReportSnapshot(uint64_t id, bool ok) {
  impl_->ReportSnapshot(id, ok);
}
bool Raft::HasReady() const { return impl_->HasReady(); }
Ready Raft::GetReady() { return impl_->GetReady(); }
void Raft::Advance(const Ready& ready) { impl_->Advance(ready); }
Status Raft::GetStatus() const { return impl_->GetStatus(); }
std::vector<std::pair<uint64_t, raftpb::ConfState>> Raft::TakeConfStates() {
  return impl_->TakeConfStates();
}
uint64_t Raft::id() const { return impl_->id(); }
uint64_t Raft::leader_id() const { return impl_->lead(); }
Role Raft::role() const { return impl_->role(); }
uint64_t Raft::term() const { return impl_->term(); }

// ---------------------------------------------------------------------------
// Construction and restart

Raft::Impl::Impl(const Config& config)
    : id_(config.id),
      election_timeout_(config.election_tick),
      heartbeat_timeout_(config.heartbeat_tick),
      config_(config),
      storage_(config.storage),
      log_(config.storage),
      tracker_(static_cast<size_t>(config.max_inflight_msgs)),
      rng_(config.seed * 0x9E3779B97F4A7C15ULL + config.id) {}

absl::Status Raft::Impl::Restore() {
  auto initial = storage_->GetInitialState();
  if (!initial.ok()) return initial.status();
  const raftpb::HardState& hs = initial->hard_state;
  term_ = hs.current_term();
  vote_ = hs.voted_for();
  tracker_.Reset(initial->conf_state, log_.LastIndex() + 1);
  // Entries up to the state machine's applied index are durable and were
  // committed, even if the persisted commit index lags behind.
  const uint64_t commit =
      std::max<uint64_t>(hs.commit_index(), config_.applied);
  if (commit > log_.LastIndex()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raft: commit index ", commit, " is past the last log index ",
        log_.LastIndex(), "; the log is missing entries"));
  }
  log_.CommitTo(commit);
  // Membership changes between the snapshot and the applied index were
  // applied before the restart; replay them so the membership matches.
  if (config_.applied > log_.applied()) {
    auto entries = log_.EntriesFrom(log_.FirstIndex(), kNoLimit);
    if (!entries.ok()) return entries.status();
    for (const auto& e : *entries) {
      if (e.index() > config_.applied) break;
      if (e.type() == raftpb::ENTRY_CONF_CHANGE) ApplyConfChangeEntry(e);
    }
    log_.AppliedTo(config_.applied);
  }
  prev_hard_state_ = hard_state();
  BecomeFollower(term_, 0);
  prev_soft_state_ = soft_state();
  return absl::OkStatus();
}

absl::Status Raft::Impl::Bootstrap(const std::vector<uint64_t>& voters) {
  if (voters.empty()) {
    return absl::InvalidArgumentError("raft: bootstrap needs voters");
  }
  if (log_.LastIndex() != 0 || term_ != 0) {
    return absl::FailedPreconditionError(
        "raft: can't bootstrap a node with existing state");
  }
  BecomeFollower(1, 0);
  std::vector<raftpb::Entry> entries;
  for (uint64_t voter : voters) {
    raftpb::ConfChange cc;
    auto* change = cc.add_changes();
    change->set_type(raftpb::CONF_ADD_VOTER);
    change->set_node_id(voter);
    raftpb::Entry e;
    e.set_term(1);
    e.set_index(entries.size() + 1);
    e.set_type(raftpb::ENTRY_CONF_CHANGE);
    e.set_data(cc.SerializeAsString());
    entries.push_back(std::move(e));
  }
  log_.Append(entries);
  log_.CommitTo(entries.size());
  // The membership takes effect now; applying the entries later is a no-op.
  for (const auto& e : entries) ApplyConfChangeEntry(e);
  return absl::OkStatus();
}

raftpb::HardState Raft::Impl::hard_state() const {
  raftpb::HardState hs;
  hs.set_current_term(term_);
  hs.set_voted_for(vote_);
  hs.set_commit_index(log_.committed());
  return hs;
}

bool Raft::Impl::Promotable() const {
  return tracker_.IsVoter(id_) && !log_.unstable_snapshot().has_value();
}

// ---------------------------------------------------------------------------
// Roles and terms

void Raft::Impl::ResetTerm(uint64_t term) {
  if (term_ != term) {
    RAFTKV_CHECK_GT(term, term_);
    term_ = term;
    vote_ = 0;
  }
  lead_ = 0;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  tracker_.ResetVotes();
  for (auto& [id, pr] : tracker_.progress) {
    const bool learner = pr.is_learner;
    pr = Progress(log_.LastIndex() + 1, tracker_.max_inflight(), learner);
    if (id == id_) pr.match_index = log_.StableLastIndex();
  }
  pending_conf_index_ = 0;
  read_only_.Reset();
  pending_reads_.clear();
}

void Raft::Impl::BecomeFollower(uint64_t term, uint64_t lead) {
  ResetTerm(term);
  lead_ = lead;
  role_ = Role::kFollower;
}

void Raft::Impl::BecomePreCandidate() {
  RAFTKV_CHECK(role_ != Role::kLeader);
  // Pre-vote changes neither the term nor the vote (thesis 9.6).
  tracker_.ResetVotes();
  lead_ = 0;
  role_ = Role::kPreCandidate;
  // A pre-vote round that does not win (a voter still in its leader lease
  // ignored it: election ticks are not in phase across members) is retried
  // after a few ticks rather than a whole election timeout. A pre-vote binds
  // no one, so retrying early cannot disrupt a leader; it only keeps one
  // unlucky round from doubling the time to elect a successor.
  std::uniform_int_distribution<int> retry(2,
                                           std::max(2, election_timeout_ / 3));
  randomized_election_timeout_ = retry(rng_);
}

void Raft::Impl::BecomeCandidate() {
  RAFTKV_CHECK(role_ != Role::kLeader);
  ResetTerm(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void Raft::Impl::BecomeLeader() {
  RAFTKV_CHECK(role_ != Role::kFollower);
  ResetTerm(term_);
  lead_ = id_;
  role_ = Role::kLeader;
  if (auto it = tracker_.progress.find(id_); it != tracker_.progress.end()) {
    it->second.BecomeReplicate();
    it->second.match_index = log_.StableLastIndex();
    it->second.next_index = log_.LastIndex() + 1;
    it->second.recent_active = true;
  }
  // An unapplied conf change may sit in the log; be conservative and allow
  // the next one only after everything up to here is applied.
  pending_conf_index_ = log_.LastIndex();
  // A no-op entry of the new term lets the leader commit (and learn the
  // commit index) without waiting for a client proposal (paper 5.4.2, 8).
  AppendEntry(std::vector<raftpb::Entry>(1));
}

// ---------------------------------------------------------------------------
// Step

ReceiverView Raft::Impl::View() const {
  ReceiverView v;
  v.id = id_;
  v.term = term_;
  v.role = role_;
  v.lead = lead_;
  v.last_index = log_.LastIndex();
  v.last_read_round = read_only_.LastIssuedRoundId();
  v.max_entries_bytes = config_.max_size_per_msg;
  return v;
}

absl::Status Raft::Impl::Refuse(Refusal kind, const Message& m,
                                const std::string& detail) {
  const int k = static_cast<int>(kind);
  ++refused_[k];
  std::string type = raftpb::MessageType_IsValid(m.type())
                         ? raftpb::MessageType_Name(m.type())
                         : absl::StrCat(static_cast<int>(m.type()));
  last_refused_[k] =
      absl::StrCat("from=", m.from(), " term=", m.term(), " type=", type,
                   detail.empty() ? "" : " ", detail);
  return absl::InvalidArgumentError(absl::StrCat(
      "raft: refused kind=", RefusalName(kind), " ", last_refused_[k]));
}

absl::Status Raft::Impl::Step(const Message& m) {
  // The door (message_check.h): nothing below may trust `m` before this.
  std::string detail;
  if (Refusal r = CheckMessage(m, View(), &detail); r != Refusal::kAccepted) {
    return Refuse(r, m, detail);
  }
  bool handled = false;
  if (absl::Status s = StepByTerm(m, &handled); !s.ok() || handled) return s;
  switch (m.type()) {
    case raftpb::MSG_REQUEST_VOTE:
    case raftpb::MSG_REQUEST_PRE_VOTE:
      HandleVoteRequest(m);
      return absl::OkStatus();
    default:
      break;
  }
  switch (role_) {
    case Role::kLeader:
      StepLeader(m);
      break;
    case Role::kCandidate:
    case Role::kPreCandidate:
      StepCandidate(m);
      break;
    case Role::kFollower:
      StepFollower(m);
      break;
  }
  return absl::OkStatus();
}

// Applies the term rules common to every role. Sets *handled when the
// message needs no further processing.
absl::Status Raft::Impl::StepByTerm(const Message& m, bool* handled) {
  // Forwarded local messages carry no term (CheckMessage refuses term 0 on
  // every other type).
  if (m.term() == 0) return absl::OkStatus();
  if (m.term() > term_) {
    const bool vote_request = m.type() == raftpb::MSG_REQUEST_VOTE ||
                              m.type() == raftpb::MSG_REQUEST_PRE_VOTE;
    if (vote_request) {
      // A node that hears from a live leader ignores campaigns (check-quorum
      // lease): this is what keeps a removed or partitioned node from
      // deposing a healthy leader. A transfer's campaign is exempt.
      const bool force = m.context() == kCampaignTransfer;
      const bool in_lease = config_.check_quorum && lead_ != 0 &&
                            election_elapsed_ < election_timeout_;
      if (!force && in_lease) {
        *handled = true;
        return absl::OkStatus();
      }
    }
    if (m.type() == raftpb::MSG_REQUEST_PRE_VOTE ||
        (m.type() == raftpb::MSG_REQUEST_PRE_VOTE_RESPONSE && !m.reject())) {
      // Pre-votes never change the term: a granted pre-vote response carries
      // the term the candidate would move to.
      return absl::OkStatus();
    }
    const bool from_leader = m.type() == raftpb::MSG_APPEND_ENTRIES ||
                             m.type() == raftpb::MSG_HEARTBEAT ||
                             m.type() == raftpb::MSG_INSTALL_SNAPSHOT;
    BecomeFollower(m.term(), from_leader ? m.from() : 0);
    return absl::OkStatus();
  }
  if (m.term() < term_) {
    *handled = true;
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type() == raftpb::MSG_HEARTBEAT ||
         m.type() == raftpb::MSG_APPEND_ENTRIES)) {
      // A stale leader (e.g. back from a partition) learns our term and
      // steps down; without this it could never rejoin when our higher
      // term came from a vote it ignores in its lease.
      Message resp;
      resp.set_to(m.from());
      resp.set_type(raftpb::MSG_APPEND_ENTRIES_RESPONSE);
      Send(std::move(resp));
    } else if (m.type() == raftpb::MSG_REQUEST_PRE_VOTE) {
      Message resp;
      resp.set_to(m.from());
      resp.set_type(raftpb::MSG_REQUEST_PRE_VOTE_RESPONSE);
      resp.set_term(term_);
      resp.set_reject(true);
      Send(std::move(resp));
    }
  }
  return absl::OkStatus();
}

void Raft::Impl::Send(Message m) {
  m.set_from(id_);
  const bool keeps_term = m.type() == raftpb::MSG_REQUEST_VOTE ||
                          m.type() == raftpb::MSG_REQUEST_VOTE_RESPONSE ||
                          m.type() == raftpb::MSG_REQUEST_PRE_VOTE ||
                          m.type() == raftpb::MSG_REQUEST_PRE_VOTE_RESPONSE;
  if (keeps_term) {
    RAFTKV_CHECK_NE(m.term(), 0u);  // set by the caller
  } else if (m.type() != raftpb::MSG_PROPOSE &&
             m.type() != raftpb::MSG_READ_INDEX &&
             m.type() != raftpb::MSG_TRANSFER_LEADER) {
    m.set_term(term_);  // forwarded local messages carry no term
  }
  msgs_.push_back(std::move(m));
}

}  // namespace raftkv::raft
