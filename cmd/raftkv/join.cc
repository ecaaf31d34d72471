#include "cmd/raftkv/join.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cmd/raftkv/tls_setup.h"
#include "grpcpp/client_context.h"
#include "rpc/peer/peer_channel.h"
#include "rpc/raft_peer.grpc.pb.h"

namespace raftkv::cmd {
namespace {

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The member whose peer URLs are `urls` (in any order), or nullptr.
const kvpb::Member* FindByUrls(const kvpb::MemberList& list,
                               const std::vector<std::string>& urls) {
  const std::vector<std::string> want = Sorted(urls);
  for (const auto& m : list.members()) {
    if (Sorted({m.peer_urls().begin(), m.peer_urls().end()}) == want) {
      return &m;
    }
  }
  return nullptr;
}

// One Members call to `url`, with a short deadline.
absl::StatusOr<kvpb::MemberList> FetchMembers(
    const std::string& url, const rpc::PeerChannelOptions& options) {
  auto target = rpc::PeerUrlToTarget(url);
  if (!target.ok()) return target.status();
  auto stub = peerpb::RaftPeer::NewStub(rpc::NewPeerChannel(*target, options));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  peerpb::MembersRequest req;
  peerpb::MembersResponse resp;
  const grpc::Status s = stub->Members(&ctx, req, &resp);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(url, ": ", s.error_message()));
  }
  kvpb::MemberList list;
  if (!list.ParseFromString(resp.member_list())) {
    return absl::DataLossError(absl::StrCat(url, ": bad member list"));
  }
  return list;
}

void Adopt(ServerConfig* c, const kvpb::MemberList& list,
           const kvpb::Member& self) {
  c->member_id = self.id();
  c->cluster_id = list.cluster_id();
  c->initial_members = list;
}

}  // namespace

absl::Status JoinExisting(ServerConfig* c, absl::Duration wait) {
  const std::string peer_urls =
      absl::StrJoin(c->initial_advertise_peer_urls, ",");
  std::ifstream in(c->data_dir + "/members.pb", std::ios::binary);
  if (in) {
    // A restart: the member list on disk is the truth.
    std::stringstream buf;
    buf << in.rdbuf();
    kvpb::MemberList list;
    if (!list.ParseFromString(buf.str())) {
      return absl::DataLossError(
          absl::StrCat("raftkv: cannot parse ", c->data_dir, "/members.pb"));
    }
    const kvpb::Member* self = FindByUrls(list, c->initial_advertise_peer_urls);
    if (self == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("raftkv: the member with peer URLs ", peer_urls,
                       " has been permanently removed from the cluster"));
    }
    Adopt(c, list, *self);
    return absl::OkStatus();
  }
  rpc::PeerChannelOptions options;
  auto credentials = PeerDialCredentials(*c);
  if (!credentials.ok()) return credentials.status();
  options.credentials = *credentials;
  const absl::Time deadline = absl::Now() + wait;
  std::string last_error = "no peer in --initial-cluster besides this member";
  bool listed_elsewhere = false;
  std::set<std::string> refused;  // peer URLs whose failure was logged
  while (true) {
    for (const auto& [name, urls] : c->initial_cluster) {
      if (name == c->name) continue;
      for (const auto& url : urls) {
        auto list = FetchMembers(url, options);
        if (!list.ok()) {
          last_error = std::string(list.status().message());
          if (refused.insert(url).second) {
            if (rpc::IsCertificateRefusal(last_error,
                                          options.credentials != nullptr)) {
              // etcd's words (its e2e tests wait for them), then gRPC's.
              std::fprintf(stderr,
                           "raftkv: peer %s closed the connection at the TLS "
                           "handshake, refusing this member's certificate: "
                           "remote error: tls: bad certificate (%s)\n",
                           url.c_str(), last_error.c_str());
            } else {
              std::fprintf(stderr,
                           "raftkv: cannot fetch the member list from %s: %s "
                           "(retrying)\n",
                           url.c_str(), last_error.c_str());
            }
          }
          continue;
        }
        listed_elsewhere = true;
        if (const kvpb::Member* self =
                FindByUrls(*list, c->initial_advertise_peer_urls)) {
          Adopt(c, *list, *self);
          return absl::OkStatus();
        }
        // That peer may not have applied the `member add` yet: try others.
      }
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  if (listed_elsewhere) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raftkv: --initial-cluster-state=existing, but no member of the "
        "cluster has peer URLs ",
        peer_urls, " (add it first: etcdctl member add ", c->name,
        " --peer-urls=", peer_urls, ")"));
  }
  return absl::UnavailableError(absl::StrCat(
      "raftkv: --initial-cluster-state=existing, but cannot fetch the member "
      "list from the peers in --initial-cluster: ",
      last_error));
}

}  // namespace raftkv::cmd
