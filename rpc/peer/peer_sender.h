// PeerSender: the outgoing half of one peer pair. It owns a bounded queue of
// Raft messages and one thread that keeps a long-lived RaftPeer.Stream open
// to the peer and writes whatever is queued as MessageBatch batches.
#ifndef RAFTKV_RPC_PEER_PEER_SENDER_H_
#define RAFTKV_RPC_PEER_PEER_SENDER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "raft/raftpb.pb.h"
#include "raft/transport.h"
#include "rpc/peer/peer_channel.h"
#include "rpc/raft_peer.grpc.pb.h"

namespace raftkv::rpc {

struct PeerSenderOptions {
  // Messages queued for one peer beyond this are dropped.
  size_t queue_capacity = 4096;
  // One MessageBatch holds at most this many messages / serialized bytes
  // (always at least one message, however large).
  size_t max_batch_messages = 1024;
  size_t max_batch_bytes = 4 << 20;
  // At most one ReportUnreachable per peer per interval: a dead peer is
  // reported, not flooded (Send of 100k messages makes ~1 report).
  absl::Duration report_interval = absl::Milliseconds(100);
  // An idle stream writes an empty batch this often, so that a stream the
  // peer has ended or lost is noticed (and the peer reported) before the
  // next Raft message is lost on it.
  absl::Duration idle_check_interval = absl::Milliseconds(200);
  // Reconnect backoff (doubling) and keepalive; see PeerChannelOptions.
  PeerChannelOptions channel;
  // Called (on the sender thread) when the peer ended the stream because
  // this member was removed from the cluster (kRemovedMessage). May be
  // empty.
  std::function<void()> on_removed;
};

// Thread safety: Enqueue and Stop may be called from any thread (the Raft
// thread enqueues; PeerTransport stops). The sender thread is the only one
// that touches the stream. mu_ guards the queue and the connection state;
// it is never held across a gRPC call, except that Stop() calls
// ClientContext::TryCancel under it, which never blocks.
//
// Loss policy: a message is dropped (and the peer reported unreachable) when
// the queue is full, when the peer is known to be down (the last connection
// attempt failed), or when the stream breaks with it queued or in flight.
// Raft retransmits; it never needs the transport to.
class PeerSender {
 public:
  // `handler` must outlive the sender. Starts the sender thread.
  PeerSender(uint64_t from, uint64_t to, uint64_t cluster_id,
             std::string target, raft::MessageHandler* handler,
             const PeerSenderOptions& options);
  PeerSender(const PeerSender&) = delete;
  PeerSender& operator=(const PeerSender&) = delete;
  ~PeerSender();  // Stop()s.

  // Queues `m` (m.to() == to) or drops it; never blocks on the network.
  void Enqueue(raftpb::Message m);

  // Cancels the stream, drops what is queued and joins the sender thread.
  // Bounded: cancellation makes every pending gRPC call return. Idempotent.
  void Stop();

  const std::string& target() const { return target_; }
  // True while a stream is open (for tests and status pages).
  bool connected() const;

 private:
  // The sender thread's job: connect, stream batches until the stream
  // breaks, back off, repeat until Stop().
  void Run();
  // Opens one stream and writes batches on it until it breaks or Stop().
  // Returns whether the stream was established (its hello was written).
  bool RunStream(grpc::ClientContext* ctx);
  // Waits for queued messages and takes a batch of them; after
  // idle_check_interval with none, returns an empty (probe) batch. nullopt
  // on Stop().
  std::optional<peerpb::MessageBatch> NextBatch();
  // Registers a fresh ClientContext for the next stream; null after Stop().
  std::unique_ptr<grpc::ClientContext> NewStreamContext();
  void MarkConnected() ABSL_LOCKS_EXCLUDED(mu_);
  // Marks the peer down, drops the queue and reports the peer unreachable.
  void MarkDown() ABSL_LOCKS_EXCLUDED(mu_);
  // Whether a ReportUnreachable is due now (rate limit), updating the clock.
  bool ReportDue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sleeps for `d` or until Stop(). Returns false if stopping.
  bool WaitBackoff(absl::Duration d);

  const uint64_t from_;
  const uint64_t to_;
  const uint64_t cluster_id_;
  const std::string target_;
  raft::MessageHandler* const handler_;
  const PeerSenderOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<peerpb::RaftPeer::Stub> stub_;

  mutable absl::Mutex mu_;
  // Invariant: size() <= options_.queue_capacity.
  std::deque<raftpb::Message> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The last connection attempt failed or the stream broke; Enqueue drops.
  // Starts false so the first messages wait for the first connection.
  bool down_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_report_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The context of the stream being opened or open, for Stop() to cancel.
  // Owned by the sender thread; non-null only while that stream exists.
  grpc::ClientContext* active_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;

  std::thread thread_;  // last member: started after everything above
};

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_PEER_PEER_SENDER_H_
