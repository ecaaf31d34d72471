#include "cmd/raftkv/corrupt_check.h"

#include <cstdio>

#include "absl/strings/str_format.h"
#include "cmd/raftkv/tls_setup.h"
#include "grpcpp/client_context.h"
#include "rpc/peer/peer_channel.h"
#include "rpc/raft_peer.grpc.pb.h"

namespace raftkv::cmd {
namespace {

void Log(const std::string& line) {
  std::fprintf(stderr, "raftkv: %s\n", line.c_str());
}

}  // namespace

absl::Status InitialCorruptCheck(const ServerConfig& c, kv::StateMachine& sm,
                                 absl::Duration per_peer) {
  auto local = sm.store()->HashKV(0);
  if (!local.ok()) return local.status();
  Log(absl::StrFormat(
      "%x starting initial corruption check with timeout %s (revision %d, "
      "compact revision %d)",
      c.member_id, absl::FormatDuration(per_peer), local->hash_revision,
      local->compact_revision));
  rpc::PeerChannelOptions options;
  auto credentials = PeerDialCredentials(c);
  if (!credentials.ok()) return credentials.status();
  options.credentials = *credentials;

  int mismatches = 0;
  const kvpb::MemberList members = sm.members().List();
  for (const kvpb::Member& m : members.members()) {
    if (m.id() == c.member_id || m.peer_urls().empty()) continue;
    peerpb::HashKVResponse resp;
    grpc::Status status;
    std::string url;
    for (const std::string& u : m.peer_urls()) {  // the first that answers
      url = u;
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
      req.set_cluster_id(c.cluster_id);
      req.set_revision(local->hash_revision);
      status = stub->HashKV(&ctx, req, &resp);
      if (status.ok()) break;
    }
    if (!status.ok()) {
      // etcd's words for the two expected refusals.
      std::string why = status.error_message();
      if (why.find("future revision") != std::string::npos) {
        why = "peer is lagging behind";
      } else if (why.find("compacted") != std::string::npos) {
        why = "peer has a newer compact revision";
      }
      Log(absl::StrFormat("%x cannot check the hash of peer %x (%s): %s",
                          c.member_id, m.id(), url, why));
      continue;
    }
    if (resp.hash() == local->hash) continue;
    if (resp.compact_revision() != local->compact_revision) {
      Log(absl::StrFormat(
          "%x cannot check hash of peer %x: peer has a different compact "
          "revision %d (revision %d)",
          c.member_id, m.id(), resp.compact_revision(), resp.revision()));
      continue;
    }
    Log(absl::StrFormat(
        "%x's hash %d != %x's hash %d (revision %d, peer revision %d, "
        "compact revision %d)",
        c.member_id, local->hash, m.id(), resp.hash(), local->hash_revision,
        resp.revision(), local->compact_revision));
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

}  // namespace raftkv::cmd
