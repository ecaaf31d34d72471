// SnapshotSender: streams InstallSnapshot RPCs, one thread per snapshot in
// flight, so a multi-GB transfer never delays the message streams.
#ifndef RAFTKV_RPC_PEER_SNAPSHOT_SENDER_H_
#define RAFTKV_RPC_PEER_SNAPSHOT_SENDER_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"
#include "raft/raftpb.pb.h"
#include "raft/transport.h"
#include "rpc/peer/peer_channel.h"

namespace raftkv::rpc {

// Re-slices a SnapshotSource into chunks of at most `max_bytes`, looking one
// chunk ahead so that the final chunk is known to be last. Not thread safe.
class SnapshotChunker {
 public:
  SnapshotChunker(raft::SnapshotSource* source, size_t max_bytes);
  // Replaces *data with the next chunk and sets *last on the final one
  // (which may be empty when the source is).
  absl::Status Next(std::string* data, bool* last);

 private:
  raft::SnapshotSource* const source_;
  const size_t max_bytes_;
  std::string pending_;  // read from source_, not yet returned
  bool eof_ = false;     // source_->Next() returned false
};

// Thread safety: Start and Stop may be called from any thread. Each
// snapshot runs on its own thread ("snapshot sender: stream one snapshot to
// one peer, then report"), which touches only its Job and calls the
// handler. mu_ guards the job list; Stop() cancels every job's context
// under it (TryCancel never blocks) and joins the threads outside it.
class SnapshotSender {
 public:
  // `handler` must outlive the sender.
  SnapshotSender(uint64_t cluster_id, raft::MessageHandler* handler,
                 size_t chunk_bytes, PeerChannelOptions channel_options);
  SnapshotSender(const SnapshotSender&) = delete;
  SnapshotSender& operator=(const SnapshotSender&) = delete;
  ~SnapshotSender();  // Stop()s.

  // Streams `m` and then `source` to `target` on a new thread and reports
  // the outcome with handler->ReportSnapshot(m.to(), ok). After Stop(),
  // reports failure right away.
  void Start(const std::string& target, raftpb::Message m,
             std::unique_ptr<raft::SnapshotSource> source);

  // Cancels every transfer (each reports failure) and joins the threads.
  void Stop();

 private:
  struct Job {
    grpc::ClientContext ctx;
    std::thread thread;
    bool done = false;  // guarded by SnapshotSender::mu_
  };

  void Run(Job* job, std::string target, raftpb::Message m,
           std::unique_ptr<raft::SnapshotSource> source);
  absl::Status Stream(Job* job, const std::string& target,
                      const raftpb::Message& m, raft::SnapshotSource* source);
  // Joins and forgets finished jobs.
  void Reap() ABSL_LOCKS_EXCLUDED(mu_);

  const uint64_t cluster_id_;
  raft::MessageHandler* const handler_;
  const size_t chunk_bytes_;
  const PeerChannelOptions channel_options_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::list<std::unique_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::rpc

#endif  // RAFTKV_RPC_PEER_SNAPSHOT_SENDER_H_
