// Peer URLs and the gRPC channels that carry peer traffic.
//
// Every connection between members is configured here, in one place, so the
// sender, the snapshot sender and the server agree on message size limits,
// keepalive and reconnect timing.
#ifndef RAFTKV_RPC_PEER_PEER_CHANNEL_H_
#define RAFTKV_RPC_PEER_PEER_CHANNEL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server_builder.h"

namespace raftkv::rpc {

// Largest gRPC message a peer accepts: a MessageBatch or SnapshotChunk.
// Senders keep batches and chunks well below it (a few MiB); a single Raft
// message larger than this cannot be delivered and is dropped by gRPC.
inline constexpr int kMaxPeerMessageBytes = 64 << 20;

// Turns a peer URL ("http://127.0.0.1:2380", "127.0.0.1:2380",
// "https://[::1]:2380/") into a gRPC target ("127.0.0.1:2380"), and a unix
// URL ("unix://etcd.unix:1", "unixs://...") into gRPC's "unix:etcd.unix:1"
// (a socket file named as etcd names it, relative to the working
// directory). Whether the connection uses TLS is
// PeerChannelOptions::credentials's business (the member checks that https
// and unixs URLs come with peer TLS flags).
absl::StatusOr<std::string> PeerUrlToTarget(const std::string& url);

// Timing of one peer connection; the defaults suit a LAN.
struct PeerChannelOptions {
  // gRPC's own reconnect backoff, kept in step with the sender's so that a
  // restarted peer is reached within max_backoff (gRPC's default grows to
  // two minutes).
  absl::Duration min_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(1);
  // HTTP/2 pings on an idle connection detect a peer that vanished without
  // closing its sockets (power loss, partition).
  absl::Duration keepalive_time = absl::Seconds(10);
  absl::Duration keepalive_timeout = absl::Seconds(5);
  // TLS (rpc/tls) when the peer URLs are https; null means plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

// A new channel with its own connection (a local subchannel pool), so the
// message stream and a snapshot stream to the same peer never share a TCP
// connection: a multi-GB snapshot must not delay heartbeats.
std::shared_ptr<grpc::Channel> NewPeerChannel(
    const std::string& target, const PeerChannelOptions& options);

// Whether a failed call's error text says the peer refused this member's
// TLS certificate, e.g. a CA or CN it does not accept. With TLS 1.3 the
// server checks the client's certificate after the client has finished its
// handshake, and gRPC 1.51 reports the server's alert only as "Socket
// closed": on a TLS channel (`tls`) that is taken as a refusal too (a peer
// that is down refuses the TCP connection instead).
bool IsCertificateRefusal(const std::string& error, bool tls);

// Applies the peer server's limits and keepalive policy to `builder`.
void ConfigurePeerServerBuilder(grpc::ServerBuilder* builder);

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_PEER_PEER_CHANNEL_H_
