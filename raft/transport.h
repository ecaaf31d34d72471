// Transport: how the node driver talks to its peers. The gRPC
// implementation lives in rpc/peer/; tests use an in-process one. raft/
// knows only this interface.
#ifndef RAFTKV_RAFT_TRANSPORT_H_
#define RAFTKV_RAFT_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/raftpb.pb.h"

namespace raftkv::raft {

// A point-in-time copy of the state machine, read as opaque chunks.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // Fills *chunk with the next chunk; returns false at the end.
  virtual absl::StatusOr<bool> Next(std::string* chunk) = 0;
};

// Where a received snapshot's chunks are staged until Raft installs it. A
// sink destroyed without Finish() (the stream failed) discards what it
// staged.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  // The source's bytes in order; piece boundaries need not be the
  // source's chunk boundaries (a transport may cut the stream anywhere).
  virtual absl::Status Write(const std::string& piece) = 0;
  // All chunks arrived; the staged copy is complete and durable.
  virtual absl::Status Finish() = 0;
};

// The receiving side, implemented by the node driver. All methods are
// thread safe and never block for long (they queue).
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  virtual void Receive(raftpb::Message m) = 0;
  virtual void ReportUnreachable(uint64_t id) = 0;
  virtual void ReportSnapshot(uint64_t id, bool ok) = 0;
  // A peer starts streaming the snapshot announced by `m`. The transport
  // writes every chunk to the returned sink, calls Finish(), and then hands
  // `m` to Receive().
  virtual absl::StatusOr<std::unique_ptr<SnapshotSink>> BeginSnapshot(
      const raftpb::Message& m) = 0;
};

// The sending side. Thread safety: Send and SendSnapshot are called from the
// Raft thread only and must never block on the network: implementations
// queue, and drop (calling ReportUnreachable) when a peer is down or slow.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void Send(std::vector<raftpb::Message> msgs) = 0;
  // Streams `m` (an MSG_INSTALL_SNAPSHOT) followed by `data`, then reports
  // the outcome through MessageHandler::ReportSnapshot.
  virtual void SendSnapshot(raftpb::Message m,
                            std::unique_ptr<SnapshotSource> data) = 0;
  virtual void AddPeer(uint64_t id, const std::string& url) = 0;
  virtual void RemovePeer(uint64_t id) = 0;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_TRANSPORT_H_
