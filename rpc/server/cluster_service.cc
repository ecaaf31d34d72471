// Cluster service: MemberList and etcd's reconfiguration RPCs (MemberAdd,
// MemberRemove, MemberUpdate, MemberPromote).
//
// Each change is validated here against the local member list, then
// proposed through Raft as one raftpb::ConfChange whose context carries the
// member (kv/state_machine.cc applies both). The checks follow etcd 3.4's
// etcdserver/server.go (mayAddMember, mayRemoveMember, mayPromoteMember)
// and membership/cluster.go (IsReadyTo*), with etcd's error messages.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kv/members.h"
#include "rpc/server/services.h"

namespace raftkv::rpc {
namespace {

grpc::Status Error(grpc::StatusCode code, const char* message) {
  return grpc::Status(code, message);
}

const grpc::Status kPeerUrlExist =
    Error(grpc::StatusCode::FAILED_PRECONDITION,
          "etcdserver: Peer URLs already exists");
const grpc::Status kBadUrls =
    Error(grpc::StatusCode::INVALID_ARGUMENT,
          "etcdserver: given member URLs are invalid");
const grpc::Status kNotFound =
    Error(grpc::StatusCode::NOT_FOUND, "etcdserver: member not found");
const grpc::Status kNotLearner =
    Error(grpc::StatusCode::FAILED_PRECONDITION,
          "etcdserver: can only promote a learner member");
const grpc::Status kLearnerNotReady =
    Error(grpc::StatusCode::FAILED_PRECONDITION,
          "etcdserver: can only promote a learner member which is in sync "
          "with leader");
const grpc::Status kTooManyLearners =
    Error(grpc::StatusCode::FAILED_PRECONDITION,
          "etcdserver: too many learner members in cluster");
const grpc::Status kNotEnoughStarted =
    Error(grpc::StatusCode::FAILED_PRECONDITION,
          "etcdserver: re-configuration failed due to not enough started "
          "members");
const grpc::Status kUnhealthy =
    Error(grpc::StatusCode::UNAVAILABLE, "etcdserver: unhealthy cluster");
const grpc::Status kNotLeader =
    Error(grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: not leader");

// etcd: a learner may be promoted once its match index is at least 90 % of
// the leader's.
constexpr double kLearnerReadyPercent = 0.9;

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* ctx,
                                 const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

void ToPb(const kvpb::Member& m, etcdserverpb::Member* out) {
  out->set_id(m.id());
  out->set_name(m.name());
  for (const auto& u : m.peer_urls()) out->add_peerurls(u);
  for (const auto& u : m.client_urls()) out->add_clienturls(u);
  out->set_islearner(m.is_learner());
}

// etcd's types.NewURLs: scheme http or https, a host and a port, no path.
bool ValidUrls(const google::protobuf::RepeatedPtrField<std::string>& urls) {
  if (urls.empty()) return false;
  for (const std::string& u : urls) {
    std::string rest;
    if (absl::StartsWith(u, "http://")) {
      rest = u.substr(7);
    } else if (absl::StartsWith(u, "https://")) {
      rest = u.substr(8);
    } else {
      return false;
    }
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
        rest.find('/') != std::string::npos) {
      return false;
    }
  }
  return true;
}

const kvpb::Member* Find(const kvpb::MemberList& list, uint64_t id) {
  for (const auto& m : list.members()) {
    if (m.id() == id) return &m;
  }
  return nullptr;
}

// A member is "started" once it has published its name (etcd's IsStarted).
bool Started(const kvpb::Member& m) { return !m.name().empty(); }

bool Quorate(int started, int members) { return started >= members / 2 + 1; }

}  // namespace

template <typename Resp>
grpc::ServerUnaryReactor* ClusterService::Change(
    grpc::CallbackServerContext* ctx, raftpb::ConfChange cc,
    kvpb::Member member, Resp* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  server_->ChangeMembership(
      std::move(cc), std::move(member), [this, reactor, resp](absl::Status s) {
        if (s.ok()) {
          server_->FillHeader(resp->mutable_header());
          resp->mutable_header()->clear_revision();
          kvpb::MemberList list = server_->state_machine().members().List();
          std::sort(list.mutable_members()->begin(),
                    list.mutable_members()->end(),
                    [](const kvpb::Member& a, const kvpb::Member& b) {
                      return a.id() < b.id();
                    });
          for (const auto& m : list.members()) ToPb(m, resp->add_members());
        }
        reactor->Finish(ToGrpc(s));
      });
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::MemberList(
    grpc::CallbackServerContext* ctx, const etcdserverpb::MemberListRequest*,
    etcdserverpb::MemberListResponse* resp) {
  // etcd's member list header carries no revision (it is not a KV read),
  // and lists members sorted by ID.
  server_->FillHeader(resp->mutable_header());
  resp->mutable_header()->clear_revision();
  kvpb::MemberList members = server_->state_machine().members().List();
  std::sort(members.mutable_members()->begin(),
            members.mutable_members()->end(),
            [](const kvpb::Member& a, const kvpb::Member& b) {
              return a.id() < b.id();
            });
  for (const auto& m : members.members()) ToPb(m, resp->add_members());
  return Finish(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ClusterService::MemberAdd(
    grpc::CallbackServerContext* ctx, const etcdserverpb::MemberAddRequest* req,
    etcdserverpb::MemberAddResponse* resp) {
  if (!ValidUrls(req->peerurls())) return Finish(ctx, kBadUrls);
  const kvpb::MemberList list = server_->state_machine().members().List();
  int voters = 0, started = 0, learners = 0;
  for (const auto& m : list.members()) {
    for (const auto& u : m.peer_urls()) {
      for (const auto& want : req->peerurls()) {
        if (u == want) return Finish(ctx, kPeerUrlExist);
      }
    }
    if (m.is_learner()) {
      ++learners;
    } else {
      ++voters;
      started += Started(m) ? 1 : 0;
    }
  }
  // etcd 3.4 allows one learner at a time.
  if (req->islearner() && learners >= 1) return Finish(ctx, kTooManyLearners);
  const ServerOptions& opts = server_->options();
  if (!req->islearner() && opts.strict_reconfig_check) {
    // IsReadyToAddVotingMember: the started voters must be a quorum of the
    // voters including the new one (1 of 2 is allowed: restoring a cluster
    // from one member).
    const int members = voters + 1;
    if (!(started == 1 && members == 2) && !Quorate(started, members)) {
      return Finish(ctx, kNotEnoughStarted);
    }
    // isConnectedFullySince: this member must reach every voter.
    for (const auto& m : list.members()) {
      if (m.is_learner() || m.id() == opts.member_id) continue;
      if (opts.peer_connected && !opts.peer_connected(m.id())) {
        return Finish(ctx, kUnhealthy);
      }
    }
  }
  // Like etcd's NewMember(name "", urls, token "", now): a hash of the URLs
  // and the time, so that re-adding the same URLs gets a new ID. The joining
  // member learns its ID from its peers' member lists (cmd/raftkv/join.cc).
  std::vector<std::string> urls(req->peerurls().begin(), req->peerurls().end());
  uint64_t id = 0;
  for (int64_t salt = absl::ToUnixNanos(absl::Now());
       id == 0 || Find(list, id) != nullptr; ++salt) {
    id = kv::MemberIdFor(urls, absl::StrCat(salt));
  }
  kvpb::Member member;
  member.set_id(id);
  for (const auto& u : urls) member.add_peer_urls(u);
  member.set_is_learner(req->islearner());
  ToPb(member, resp->mutable_member());
  raftpb::ConfChange cc;
  raftpb::ConfChangeSingle* c = cc.add_changes();
  c->set_type(req->islearner() ? raftpb::CONF_ADD_LEARNER
                               : raftpb::CONF_ADD_VOTER);
  c->set_node_id(id);
  return Change(ctx, std::move(cc), std::move(member), resp);
}

grpc::ServerUnaryReactor* ClusterService::MemberRemove(
    grpc::CallbackServerContext* ctx,
    const etcdserverpb::MemberRemoveRequest* req,
    etcdserverpb::MemberRemoveResponse* resp) {
  const kvpb::MemberList list = server_->state_machine().members().List();
  const kvpb::Member* target = Find(list, req->id());
  if (target == nullptr) return Finish(ctx, kNotFound);
  const ServerOptions& opts = server_->options();
  if (opts.strict_reconfig_check && !target->is_learner()) {
    // IsReadyToRemoveVotingMember: the started voters left must be a
    // quorum of the voters left.
    int members = 0, started = 0, active = 0, voters = 0;
    for (const auto& m : list.members()) {
      if (m.is_learner()) continue;
      ++voters;
      const bool connected = m.id() == opts.member_id || !opts.peer_connected ||
                             opts.peer_connected(m.id());
      active += connected ? 1 : 0;
      if (m.id() == req->id()) continue;
      ++members;
      started += Started(m) ? 1 : 0;
    }
    if (!Quorate(started, members)) return Finish(ctx, kNotEnoughStarted);
    // A member that is down is safe to remove (it is not part of the active
    // quorum); otherwise the active voters left must still be a quorum.
    const bool target_down = req->id() != opts.member_id &&
                             opts.peer_connected &&
                             !opts.peer_connected(req->id());
    if (!target_down && active - 1 < 1 + (voters - 1) / 2) {
      return Finish(ctx, kUnhealthy);
    }
  }
  raftpb::ConfChange cc;
  raftpb::ConfChangeSingle* c = cc.add_changes();
  c->set_type(raftpb::CONF_REMOVE_NODE);
  c->set_node_id(req->id());
  kvpb::Member member;
  member.set_id(req->id());
  return Change(ctx, std::move(cc), std::move(member), resp);
}

grpc::ServerUnaryReactor* ClusterService::MemberUpdate(
    grpc::CallbackServerContext* ctx,
    const etcdserverpb::MemberUpdateRequest* req,
    etcdserverpb::MemberUpdateResponse* resp) {
  if (!ValidUrls(req->peerurls())) return Finish(ctx, kBadUrls);
  const kvpb::MemberList list = server_->state_machine().members().List();
  const kvpb::Member* target = Find(list, req->id());
  if (target == nullptr) return Finish(ctx, kNotFound);
  for (const auto& m : list.members()) {
    if (m.id() == req->id()) continue;
    for (const auto& u : m.peer_urls()) {
      for (const auto& want : req->peerurls()) {
        if (u == want) return Finish(ctx, kPeerUrlExist);
      }
    }
  }
  // Raft's membership does not change: the member is re-added with the role
  // it has (a no-op for Raft); the context carries the new URLs.
  kvpb::Member member = *target;
  member.clear_peer_urls();
  for (const auto& u : req->peerurls()) member.add_peer_urls(u);
  raftpb::ConfChange cc;
  raftpb::ConfChangeSingle* c = cc.add_changes();
  c->set_type(target->is_learner() ? raftpb::CONF_ADD_LEARNER
                                   : raftpb::CONF_ADD_VOTER);
  c->set_node_id(req->id());
  return Change(ctx, std::move(cc), std::move(member), resp);
}

grpc::ServerUnaryReactor* ClusterService::MemberPromote(
    grpc::CallbackServerContext* ctx,
    const etcdserverpb::MemberPromoteRequest* req,
    etcdserverpb::MemberPromoteResponse* resp) {
  const kvpb::MemberList list = server_->state_machine().members().List();
  const kvpb::Member* target = Find(list, req->id());
  if (target == nullptr) return Finish(ctx, kNotFound);
  if (!target->is_learner()) return Finish(ctx, kNotLearner);
  // Only the leader knows how far the learner is (etcd 3.4's followers
  // forward the request to the leader over the peer API; raftkv's refuse).
  const raft::NodeStatus st = server_->node().status();
  if (st.leader != st.id) return Finish(ctx, kNotLeader);
  auto it = st.match_index.find(req->id());
  const uint64_t learner_match = it == st.match_index.end() ? 0 : it->second;
  if (static_cast<double>(learner_match) <
      static_cast<double>(st.last_index) * kLearnerReadyPercent) {
    return Finish(ctx, kLearnerNotReady);
  }
  if (server_->options().strict_reconfig_check) {
    // IsReadyToPromoteMember: the learner counts as a started voter.
    int members = 1, started = 1;
    for (const auto& m : list.members()) {
      if (m.is_learner()) continue;
      ++members;
      started += Started(m) ? 1 : 0;
    }
    if (!Quorate(started, members)) return Finish(ctx, kNotEnoughStarted);
  }
  kvpb::Member member = *target;
  member.set_is_learner(false);
  raftpb::ConfChange cc;
  raftpb::ConfChangeSingle* c = cc.add_changes();
  c->set_type(raftpb::CONF_ADD_VOTER);
  c->set_node_id(req->id());
  return Change(ctx, std::move(cc), std::move(member), resp);
}

}  // namespace raftkv::rpc
