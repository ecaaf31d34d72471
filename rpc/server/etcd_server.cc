#include "rpc/server/etcd_server.h"

#include <pthread.h>

#include <cstdio>
#include <utility>

#include "absl/time/clock.h"

namespace raftkv::rpc {

absl::Status RequestTimeoutError() {
  return absl::UnavailableError("etcdserver: request timed out");
}

absl::Status RequestTooLargeError() {
  return absl::InvalidArgumentError("etcdserver: request is too large");
}

EtcdServer::EtcdServer(const ServerOptions& options, raft::Node* node,
                       kv::StateMachine* sm)
    : options_(options),
      node_(node),
      sm_(sm),
      // Request ids: the member id's low 16 bits, then the start time in
      // milliseconds, then a counter, so that a restarted member never
      // reuses an id that may still be in the log.
      next_id_((options.member_id << 48) ^
               (static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())) << 20)),
      readers_(options.read_threads),
      blocking_(4) {
  publisher_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "raftkv-publish");
    PublishLoop();
  });
  lessor_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "raftkv-lessor");
    LessorLoop();
  });
  {
    absl::MutexLock l(&quota_hook_->mu);
    quota_hook_->server = this;
  }
  sm_->SetQuotaObserver([hook = quota_hook_] {
    absl::MutexLock l(&hook->mu);
    if (hook->server != nullptr) hook->server->RaiseNoSpace();
  });
}

EtcdServer::~EtcdServer() {
  {
    absl::MutexLock l(&quota_hook_->mu);
    quota_hook_->server = nullptr;
  }
  stopping_ = true;
  publisher_.join();
  lessor_thread_.join();
}

uint64_t EtcdServer::NextRequestId() {
  uint64_t id = ++next_id_;
  return id == 0 ? ++next_id_ : id;
}

void EtcdServer::ArmTimeout(uint64_t id) {
  timers_.At(absl::Now() + options_.request_timeout, [this, id] {
    if (kv::ResultCallback cb = sm_->results().Take(id)) {
      cb(RequestTimeoutError());
    }
  });
}

void EtcdServer::Write(kvpb::InternalRequest request, WriteCallback done) {
  if (!sm_->quota()->Available(request)) {
    RaiseNoSpace();
    done(kv::NoSpaceError());
    return;
  }
  const uint64_t id = NextRequestId();
  request.set_id(id);
  std::string data = request.SerializeAsString();
  if (static_cast<int64_t>(data.size()) > options_.max_request_bytes) {
    done(RequestTooLargeError());
    return;
  }
  sm_->results().Register(id, std::move(done));
  ArmTimeout(id);
  node_->Propose(std::move(data), [this, id](absl::Status s) {
    kv::ResultCallback cb = sm_->results().Take(id);
    if (!cb) return;
    if (s.ok()) {
      cb(kv::ApplyResponse{});  // test-only unsafe_ack_before_commit
    } else {
      cb(s);
    }
  });
}

void EtcdServer::RaiseNoSpace() {
  if (sm_->alarms().Get().Contains(kv::kAlarmNoSpace, options_.member_id)) {
    return;
  }
  if (raising_nospace_->exchange(true)) return;
  std::fprintf(stderr,
               "raftkv: message exceeded backend quota; raising alarm "
               "(quota-size-bytes=%lld)\n",
               static_cast<long long>(sm_->quota()->limit()));
  kvpb::InternalRequest request;
  kvpb::AlarmChange* alarm = request.mutable_alarm();
  alarm->set_action(kvpb::AlarmChange::ACTIVATE);
  alarm->set_member_id(options_.member_id);
  alarm->set_alarm(kv::kAlarmNoSpace);
  Write(std::move(request),
        [flag = raising_nospace_](const kv::ApplyResult&) { *flag = false; });
}

void EtcdServer::LinearizableRead(std::function<void()> read,
                                  DoneCallback failed) {
  if (options_.unsafe_no_read_index) {
    readers_.Run(std::move(read));
    return;
  }
  // Shared between the timeout and the success path: whichever comes first
  // wins the flag.
  auto state = std::make_shared<std::atomic<bool>>(false);
  auto fail = [state, failed](absl::Status s) {
    if (!state->exchange(true)) failed(std::move(s));
  };
  timers_.At(absl::Now() + options_.request_timeout,
             [fail] { fail(RequestTimeoutError()); });
  node_->ReadIndex([this, state, read = std::move(read),
                    fail](absl::StatusOr<uint64_t> index) mutable {
    if (!index.ok()) {
      fail(index.status());
      return;
    }
    sm_->OnApplied(*index, [this, state, read = std::move(read)]() mutable {
      if (state->exchange(true)) return;  // timed out meanwhile
      readers_.Run(std::move(read));
    });
  });
}

void EtcdServer::ChangeMembership(raftpb::ConfChange cc, kvpb::Member member,
                                  DoneCallback done) {
  const uint64_t id = NextRequestId();
  kvpb::ConfChangeContext ctx;
  ctx.set_request_id(id);
  *ctx.mutable_member() = std::move(member);
  cc.set_context(ctx.SerializeAsString());
  sm_->results().Register(
      id, [done](const kv::ApplyResult& r) { done(r.status()); });
  ArmTimeout(id);
  node_->ProposeConfChange(std::move(cc), [this, id](absl::Status s) {
    if (kv::ResultCallback cb = sm_->results().Take(id)) cb(s);
  });
}

void EtcdServer::AwaitLeader(uint64_t leader, DoneCallback done) {
  PollLeader(leader, absl::Now() + options_.request_timeout, std::move(done));
}

void EtcdServer::PollLeader(uint64_t leader, absl::Time deadline,
                            DoneCallback done) {
  if (node_->leader() == leader) {
    done(absl::OkStatus());
  } else if (absl::Now() >= deadline) {
    // etcd's ErrTimeoutLeaderTransfer has no gRPC mapping: code Unknown.
    done(absl::UnknownError(
        "etcdserver: request timed out, leader transfer took too long"));
  } else {
    timers_.At(absl::Now() + absl::Milliseconds(10),
               [this, leader, deadline, done = std::move(done)]() mutable {
                 PollLeader(leader, deadline, std::move(done));
               });
  }
}

void EtcdServer::FillHeader(etcdserverpb::ResponseHeader* header) const {
  header->set_cluster_id(options_.cluster_id);
  header->set_member_id(options_.member_id);
  header->set_raft_term(node_->term());
  if (header->revision() == 0) {
    header->set_revision(sm_->store()->revision());
  }
}

int64_t EtcdServer::NewLeaseId() {
  // Lease IDs are positive int64 values; the request id generator already
  // mixes member id, start time and a counter.
  int64_t id = static_cast<int64_t>(NextRequestId() & 0x7fffffffffffffffULL);
  return id == 0 ? 1 : id;
}

void EtcdServer::ResetLeaseCheckpoint(int64_t id) {
  kvpb::InternalRequest req;
  kvpb::LeaseRecord* r = req.mutable_lease_checkpoint()->add_leases();
  r->set_id(id);
  r->set_remaining_ttl(0);
  Write(std::move(req), [](const kv::ApplyResult&) {});
}

void EtcdServer::LessorLoop() {
  // etcd's leaseRevokeRate: at most 1000 revokes per second.
  constexpr int kLeaseRevokesPerSecond = 1000;
  constexpr absl::Duration kTick = absl::Milliseconds(100);
  constexpr size_t kRevokesPerTick = kLeaseRevokesPerSecond / 10;
  constexpr size_t kCheckpointBatch = 1000;
  kv::Lessor& lessor = sm_->lessor();
  absl::Time next_checkpoint = absl::Now() + options_.lease_checkpoint_interval;
  while (!stopping_) {
    absl::SleepFor(kTick);
    const raft::NodeStatus st = node_->status();
    const bool leader = st.leader == st.id && st.applied >= st.commit;
    if (leader && !lessor.is_primary()) {
      lessor.Promote(options_.election_timeout);
      next_checkpoint = absl::Now() + options_.lease_checkpoint_interval;
    } else if (!leader && st.leader != st.id && lessor.is_primary()) {
      lessor.Demote();
    }
    if (!lessor.is_primary()) continue;
    for (int64_t id :
         lessor.Expired(kRevokesPerTick, options_.request_timeout)) {
      kvpb::InternalRequest req;
      req.mutable_lease_revoke()->set_id(id);
      Write(std::move(req), [](const kv::ApplyResult&) {});
    }
    if (absl::Now() >= next_checkpoint) {
      next_checkpoint = absl::Now() + options_.lease_checkpoint_interval;
      // Every lease, in batches of kCheckpointBatch (one entry each).
      int64_t after = 0;
      for (;;) {
        kvpb::InternalRequest req;
        *req.mutable_lease_checkpoint() =
            lessor.Checkpoint(kCheckpointBatch, after);
        const int n = req.lease_checkpoint().leases_size();
        if (n == 0) break;
        after = req.lease_checkpoint().leases(n - 1).id();
        Write(std::move(req), [](const kv::ApplyResult&) {});
        if (static_cast<size_t>(n) < kCheckpointBatch) break;
      }
    }
  }
}

// Announces this member's name and client URLs through Raft (so that every
// member's MemberList shows them), retrying until it is applied.
void EtcdServer::PublishLoop() {
  kvpb::InternalRequest req;
  req.mutable_publish()->set_id(options_.member_id);
  req.mutable_publish()->set_name(options_.name);
  for (const auto& url : options_.client_urls) {
    req.mutable_publish()->add_client_urls(url);
  }
  auto published = published_;
  while (!stopping_ && !*published) {
    if (node_->leader() != 0) {
      Write(req, [published](const kv::ApplyResult& r) {
        if (r.ok()) *published = true;
      });
    }
    for (int i = 0; i < 20 && !stopping_ && !*published; ++i) {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
}

}  // namespace raftkv::rpc
