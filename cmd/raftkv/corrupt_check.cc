#include "cmd/raftkv/corrupt_check.h"

#include <pthread.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "cmd/raftkv/tls_setup.h"
#include "grpcpp/client_context.h"
#include "kv/alarms.h"
#include "rpc/peer/peer_channel.h"
#include "rpc/raft_peer.grpc.pb.h"

namespace raftkv::cmd {
namespace {

void Log(const std::string& line) {
  std::fprintf(stderr, "raftkv: %s\n", line.c_str());
}

// How long a peer may take to answer a periodic or post-compaction check.
constexpr absl::Duration kPerPeer = absl::Seconds(5);
// A peer that has not yet applied the revision (or the compaction) being
// compared is asked again this often, up to kRetries times.
constexpr absl::Duration kRetryEvery = absl::Milliseconds(200);
constexpr int kRetries = 10;

PeerHash AskPeer(uint64_t cluster_id, const kvpb::Member& m,
                 const rpc::PeerChannelOptions& options, int64_t revision,
                 absl::Duration per_peer) {
  PeerHash out;
  out.id = m.id();
  grpc::Status status;
  for (const std::string& u : m.peer_urls()) {  // the first that answers
    out.url = u;
    auto target = rpc::PeerUrlToTarget(u);
    if (!target.ok()) {
      status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            std::string(target.status().message()));
      continue;
    }
    auto stub =
        peerpb::RaftPeer::NewStub(rpc::NewPeerChannel(*target, options));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + per_peer));
    peerpb::HashKVRequest req;
    req.set_cluster_id(cluster_id);
    req.set_revision(revision);
    status = stub->HashKV(&ctx, req, &out.resp);
    if (status.ok()) break;
  }
  if (status.ok()) {
    out.ok = true;
    return out;
  }
  // etcd's words for the two expected refusals.
  out.why = status.error_message();
  if (out.why.find("future revision") != std::string::npos) {
    out.why = "peer is lagging behind";
  } else if (out.why.find("compacted") != std::string::npos) {
    out.why = "peer has a newer compact revision";
  }
  return out;
}

}  // namespace

std::vector<PeerHash> FetchPeerHashes(
    uint64_t self, uint64_t cluster_id, const kvpb::MemberList& members,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    int64_t revision, absl::Duration per_peer) {
  rpc::PeerChannelOptions options;
  options.credentials = credentials;
  std::vector<PeerHash> out;
  for (const kvpb::Member& m : members.members()) {
    if (m.id() == self || m.peer_urls().empty()) continue;
    out.push_back(AskPeer(cluster_id, m, options, revision, per_peer));
  }
  return out;
}

absl::Status InitialCorruptCheck(const ServerConfig& c, kv::StateMachine& sm,
                                 absl::Duration per_peer) {
  auto local = sm.store()->HashKV(0);
  if (!local.ok()) return local.status();
  Log(absl::StrFormat(
      "%x starting initial corruption check with timeout %s (revision %d, "
      "compact revision %d)",
      c.member_id, absl::FormatDuration(per_peer), local->hash_revision,
      local->compact_revision));
  auto credentials = PeerDialCredentials(c);
  if (!credentials.ok()) return credentials.status();

  int mismatches = 0;
  for (const PeerHash& p :
       FetchPeerHashes(c.member_id, c.cluster_id, sm.members().List(),
                       *credentials, local->hash_revision, per_peer)) {
    if (!p.ok) {
      Log(absl::StrFormat("%x cannot check the hash of peer %x (%s): %s",
                          c.member_id, p.id, p.url, p.why));
      continue;
    }
    if (p.resp.hash() == local->hash) continue;
    if (p.resp.compact_revision() != local->compact_revision) {
      Log(absl::StrFormat(
          "%x cannot check hash of peer %x: peer has a different compact "
          "revision %d (revision %d)",
          c.member_id, p.id, p.resp.compact_revision(), p.resp.revision()));
      continue;
    }
    Log(absl::StrFormat(
        "%x's hash %d != %x's hash %d (revision %d, peer revision %d, "
        "compact revision %d)",
        c.member_id, local->hash, p.id, p.resp.hash(), local->hash_revision,
        p.resp.revision(), local->compact_revision));
    ++mismatches;
  }
  if (mismatches > 0) {
    return absl::DataLossError(
        absl::StrFormat("%x found data inconsistency with peers", c.member_id));
  }
  Log(absl::StrFormat(
      "%x succeeded on initial corruption checking: no corruption",
      c.member_id));
  return absl::OkStatus();
}

struct CorruptionMonitor::State {
  absl::Mutex mu;
  bool stop ABSL_GUARDED_BY(mu) = false;
  // The newest compaction applied and not yet checked (0: none).
  int64_t compacted ABSL_GUARDED_BY(mu) = 0;
  int64_t checks ABSL_GUARDED_BY(mu) = 0;
};

absl::StatusOr<std::unique_ptr<CorruptionMonitor>> CorruptionMonitor::Start(
    const ServerConfig& c, kv::StateMachine* sm, raft::Node* node,
    rpc::EtcdServer* server) {
  auto credentials = PeerDialCredentials(c);
  if (!credentials.ok()) return credentials.status();
  return std::unique_ptr<CorruptionMonitor>(
      new CorruptionMonitor(c, sm, node, server, *credentials));
}

CorruptionMonitor::CorruptionMonitor(
    const ServerConfig& c, kv::StateMachine* sm, raft::Node* node,
    rpc::EtcdServer* server,
    std::shared_ptr<grpc::ChannelCredentials> credentials)
    : self_(c.member_id),
      cluster_id_(c.cluster_id),
      interval_(c.corrupt_check_time),
      sm_(sm),
      node_(node),
      server_(server),
      credentials_(std::move(credentials)),
      state_(std::make_shared<State>()) {
  sm_->SetCompactionObserver([state = state_](int64_t revision) {
    absl::MutexLock l(&state->mu);
    state->compacted = std::max(state->compacted, revision);
  });
  Log(absl::StrFormat(
      "%x enabled corruption checking with interval %s and after each "
      "compaction",
      self_, absl::FormatDuration(interval_)));
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "raftkv-corrupt");
    Loop();
  });
}

CorruptionMonitor::~CorruptionMonitor() {
  {
    absl::MutexLock l(&state_->mu);
    state_->stop = true;
  }
  thread_.join();
}

int64_t CorruptionMonitor::checks() const {
  absl::MutexLock l(&state_->mu);
  return state_->checks;
}

void CorruptionMonitor::Loop() {
  State& st = *state_;
  absl::Time next = absl::Now() + interval_;
  absl::MutexLock l(&st.mu);
  auto woken = [&st]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(st.mu) {
    return st.stop || st.compacted > 0;
  };
  while (!st.stop) {
    st.mu.AwaitWithDeadline(absl::Condition(&woken), next);
    if (st.stop) break;
    if (st.compacted > 0) {
      // At the current revision: etcd's HashKV refuses the compaction's own
      // revision. Peers that have not applied the compaction yet are asked
      // again (Check).
      st.compacted = 0;
    } else if (absl::Now() >= next) {
      next = absl::Now() + interval_;
    } else {
      continue;
    }
    const raft::NodeStatus status = node_->status();
    if (status.leader != status.id) continue;  // only the leader checks
    ++st.checks;
    st.mu.Unlock();
    Check(0);
    st.mu.Lock();
  }
}

void CorruptionMonitor::Check(int64_t revision) {
  auto local = sm_->store()->HashKV(revision);
  if (!local.ok()) {
    // Compacted past it meanwhile: the next check covers it.
    Log(absl::StrFormat("%x cannot hash its store at revision %d: %s", self_,
                        revision, local.status().message()));
    return;
  }
  const int64_t rev = local->hash_revision;
  // After a compaction at the head, HashKV refuses the revision by number
  // (it is compacted) but hashes it as "the current one": peers are then
  // asked for theirs, and only an answer at `rev` is compared.
  const int64_t ask = rev > local->compact_revision ? rev : 0;
  const kvpb::MemberList members = sm_->members().List();
  std::vector<PeerHash> peers =
      FetchPeerHashes(self_, cluster_id_, members, credentials_, ask, kPerPeer);
  // A peer that has not applied `rev`, or the compaction being checked, yet
  // is asked again for a while (it normally catches up in milliseconds).
  for (PeerHash& p : peers) {
    for (int i = 0; i < kRetries; ++i) {
      const bool behind =
          p.ok ? p.resp.compact_revision() < local->compact_revision ||
                     (ask == 0 && p.resp.revision() < rev)
               : p.why == "peer is lagging behind";
      if (!behind) break;
      {
        absl::MutexLock l(&state_->mu);
        if (state_->mu.AwaitWithTimeout(absl::Condition(&state_->stop),
                                        kRetryEvery)) {
          return;
        }
      }
      for (const kvpb::Member& m : members.members()) {
        if (m.id() != p.id) continue;
        rpc::PeerChannelOptions options;
        options.credentials = credentials_;
        p = AskPeer(cluster_id_, m, options, ask, kPerPeer);
      }
    }
  }
  // The leader's own store: the same revision must hash the same twice.
  auto again = sm_->store()->HashKV(rev);
  if (again.ok() && again->compact_revision == local->compact_revision &&
      again->hash != local->hash) {
    Log(absl::StrFormat(
        "%x's hash at revision %d changed from %d to %d: its own store is "
        "damaged",
        self_, rev, local->hash, again->hash));
    RaiseCorrupt(self_);
  }
  for (const PeerHash& p : peers) {
    if (!p.ok) {
      Log(absl::StrFormat(
          "%x cannot check the hash of peer %x (%s) at revision %d: %s", self_,
          p.id, p.url, rev, p.why));
      continue;
    }
    if (p.resp.hash() == local->hash) continue;
    if (ask == 0 && p.resp.revision() != rev) {
      Log(absl::StrFormat(
          "%x cannot check hash of peer %x: peer is at revision %d, not %d",
          self_, p.id, p.resp.revision(), rev));
      continue;
    }
    if (p.resp.compact_revision() != local->compact_revision) {
      Log(absl::StrFormat(
          "%x cannot check hash of peer %x: peer has a different compact "
          "revision %d (revision %d)",
          self_, p.id, p.resp.compact_revision(), p.resp.revision()));
      continue;
    }
    Log(absl::StrFormat(
        "%x's hash %d != %x's hash %d (revision %d, peer revision %d, "
        "compact revision %d)",
        self_, local->hash, p.id, p.resp.hash(), rev, p.resp.revision(),
        local->compact_revision));
    RaiseCorrupt(p.id);
  }
}

void CorruptionMonitor::RaiseCorrupt(uint64_t member_id) {
  if (sm_->alarms().Get().Contains(kv::kAlarmCorrupt, member_id)) return;
  Log(absl::StrFormat("%x raising alarm CORRUPT for member %x", self_,
                      member_id));
  kvpb::InternalRequest request;
  kvpb::AlarmChange* alarm = request.mutable_alarm();
  alarm->set_action(kvpb::AlarmChange::ACTIVATE);
  alarm->set_member_id(member_id);
  alarm->set_alarm(kv::kAlarmCorrupt);
  const uint64_t self = self_;
  server_->Write(
      std::move(request), [self, member_id](const kv::ApplyResult& r) {
        if (!r.ok()) {
          Log(
              absl::StrFormat("%x could not raise CORRUPT for %x: %s (the next "
                              "check retries)",
                              self, member_id, r.status().message()));
        }
      });
}

}  // namespace raftkv::cmd
