// PeerTransport: raft::Transport over gRPC (rpc/raft_peer.proto).
//
// Each peer gets a PeerSender: a bounded queue drained by one thread over
// one long-lived RaftPeer.Stream, which coalesces whatever is queued into
// MessageBatch batches and reconnects with exponential backoff. Snapshots go
// through InstallSnapshot on their own connection and thread. The Raft
// thread only ever enqueues: it never blocks on the network, and when a
// peer is down or slow its messages are dropped and the peer is reported
// unreachable (Raft retransmits). See docs/peer-transport.md.
#ifndef RAFTKV_RPC_PEER_PEER_TRANSPORT_H_
#define RAFTKV_RPC_PEER_PEER_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "raft/raftpb.pb.h"
#include "raft/transport.h"
#include "rpc/peer/peer_sender.h"
#include "rpc/peer/snapshot_sender.h"

namespace raftkv::rpc {

struct PeerTransportOptions {
  PeerSenderOptions sender;  // queue bound, batching, backoff, keepalive
  // InstallSnapshot chunks carry at most this many bytes of data.
  size_t snapshot_chunk_bytes = 1 << 20;
};

// Thread safety: every method may be called from any thread (raft::Transport
// expects Send/SendSnapshot from the Raft thread only; this class does not
// rely on it). mu_ guards the peer table. Send holds it shared while
// enqueueing (PeerSender::Enqueue never blocks), so lock order is
// PeerTransport::mu_ before PeerSender::mu_. RemovePeer and Stop stop
// senders after releasing mu_, so a Send is never held up by a join.
//
// Threads: one sender thread per peer ("raftkv-peer-<id>": write batches to
// that peer), one per snapshot in flight. Stop() (or the destructor) joins
// them all; the handler must outlive the transport.
class PeerTransport : public raft::Transport {
 public:
  PeerTransport(uint64_t id, uint64_t cluster_id, raft::MessageHandler* handler,
                PeerTransportOptions options = {});
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;
  ~PeerTransport() override;  // Stop()s.

  // Enqueues each message on its destination's sender. Messages to an
  // unknown peer (or to this member) are dropped; a full queue or a down
  // peer drops too and reports the peer unreachable (rate-limited).
  void Send(std::vector<raftpb::Message> msgs) override;
  // Streams the snapshot on a new thread; reports through ReportSnapshot.
  // An unknown peer reports failure right away.
  void SendSnapshot(raftpb::Message m,
                    std::unique_ptr<raft::SnapshotSource> data) override;
  // `url` is "http://host:port" or "host:port". Re-adding an id replaces its
  // sender (a peer's URL changed). An invalid URL is logged and ignored:
  // validate URLs up front with PeerUrlToTarget.
  void AddPeer(uint64_t id, const std::string& url) override;
  void RemovePeer(uint64_t id) override;

  // Stops every sender and snapshot; later calls are no-ops. Idempotent.
  void Stop();

  // Whether the sender to `id` has an open stream (tests, status pages).
  bool Connected(uint64_t id) const;

 private:
  const uint64_t id_;
  const uint64_t cluster_id_;
  raft::MessageHandler* const handler_;
  const PeerTransportOptions options_;
  SnapshotSender snapshots_;

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::map<uint64_t, std::unique_ptr<PeerSender>> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_PEER_PEER_TRANSPORT_H_
