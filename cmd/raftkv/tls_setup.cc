#include "cmd/raftkv/tls_setup.h"

#include "absl/strings/str_cat.h"
#include "rpc/tls/self_cert.h"

namespace raftkv::cmd {
namespace {

bool IsHttps(const std::string& url) {
  return url.rfind("https://", 0) == 0 || url.rfind("unixs://", 0) == 0;
}

std::vector<std::string> Hosts(const std::vector<std::string>& urls,
                               const std::string& flag) {
  std::vector<std::string> hosts;
  for (const auto& u : urls) {
    auto hp = HostPort(u, flag);
    if (!hp.ok()) continue;
    hosts.push_back(hp->substr(0, hp->rfind(':')));
  }
  return hosts;
}

absl::Status AutoCert(rpc::tls::TlsInfo* info, const std::string& dir,
                      const std::vector<std::string>& hosts) {
  if (!info->auto_tls) return absl::OkStatus();
  auto files = rpc::tls::EnsureSelfCert(dir, hosts);
  if (!files.ok()) return files.status();
  info->cert_file = files->cert_file;
  info->key_file = files->key_file;
  return rpc::tls::Validate(*info);
}

}  // namespace

absl::Status PrepareTls(ServerConfig* c) {
  std::vector<std::string> client_hosts =
      Hosts(c->listen_client_urls, "--listen-client-urls");
  for (const auto& h :
       Hosts(c->advertise_client_urls, "--advertise-client-urls")) {
    client_hosts.push_back(h);
  }
  if (absl::Status s = AutoCert(&c->client_tls,
                                c->data_dir + "/fixtures/client", client_hosts);
      !s.ok()) {
    return s;
  }
  std::vector<std::string> peer_hosts =
      Hosts(c->listen_peer_urls, "--listen-peer-urls");
  for (const auto& h :
       Hosts(c->initial_advertise_peer_urls, "--initial-advertise-peer-urls")) {
    peer_hosts.push_back(h);
  }
  return AutoCert(&c->peer_tls, c->data_dir + "/fixtures/peer", peer_hosts);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> PeerDialCredentials(
    const ServerConfig& c) {
  bool https = false;
  for (const auto& u : c.initial_advertise_peer_urls)
    https = https || IsHttps(u);
  if (!https) return std::shared_ptr<grpc::ChannelCredentials>();
  return rpc::tls::ChannelCredentials(c.peer_tls);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ListenerCredentials(
    const ServerConfig& c, const std::string& side, const std::string& url) {
  if (!IsHttps(url)) return grpc::InsecureServerCredentials();
  return rpc::tls::ServerCredentials(side == "peer" ? c.peer_tls
                                                    : c.client_tls);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientDialCredentials(
    const ServerConfig& c) {
  if (!c.client_tls.enabled()) return grpc::InsecureChannelCredentials();
  return rpc::tls::ChannelCredentials(c.client_tls);
}

}  // namespace raftkv::cmd
