// Test doubles and fixtures for the peer transport tests: a MessageHandler
// that records what the transport delivers, and a Member that runs a real
// PeerService on a real gRPC server on 127.0.0.1 beside a real
// PeerTransport. Waiting is on conditions with deadlines, never sleeps.
#ifndef RAFTKV_TESTS_RPC_PEER_TEST_UTIL_H_
#define RAFTKV_TESTS_RPC_PEER_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "raft/raftpb.pb.h"
#include "raft/transport.h"
#include "rpc/peer/peer_server.h"
#include "rpc/peer/peer_service.h"
#include "rpc/peer/peer_transport.h"

namespace raftkv::rpc::testing {

inline constexpr uint64_t kClusterId = 0x1234abcd;
// Long enough for a loaded 2-core CI machine; conditions usually hold in ms.
inline constexpr absl::Duration kDeadline = absl::Seconds(10);

// FNV-1a, 64 bit: the snapshot tests compare checksums of multi-MB data.
uint64_t Fnv1a(const std::string& data, uint64_t h = 14695981039346656037ull);

// A port on 127.0.0.1 that nothing listens on (bound, read, released).
int UnusedPort();

// Polls `cond` (a state with no change notification, e.g. Connected())
// every few ms until it holds or kDeadline passes; returns whether it holds.
bool Eventually(const std::function<bool()>& cond);

raftpb::Message Msg(uint64_t from, uint64_t to, uint64_t index,
                    raftpb::MessageType type = raftpb::MSG_APPEND_ENTRIES);

// Records every MessageHandler call. BeginSnapshot returns a sink that
// accumulates the chunks; fail_sink_write makes its Write fail.
//
// Thread safety: gRPC server threads, sender threads and the test thread
// call in concurrently; mu_ guards all recorded state.
class RecordingHandler : public raft::MessageHandler {
 public:
  struct State {
    std::vector<raftpb::Message> received;
    std::map<uint64_t, int> unreachable;  // id -> ReportUnreachable calls
    std::vector<std::pair<uint64_t, bool>> snapshot_reports;
    std::string snapshot_data;       // chunks written to the last sink
    bool snapshot_finished = false;  // its Finish() was called
    bool fail_sink_write = false;
  };

  void Receive(raftpb::Message m) override;
  void ReportUnreachable(uint64_t id) override;
  void ReportSnapshot(uint64_t id, bool ok) override;
  absl::StatusOr<std::unique_ptr<raft::SnapshotSink>> BeginSnapshot(
      const raftpb::Message& m) override;

  // Waits until `done(state)` holds (evaluated under the lock, on every
  // change) or `deadline` passes; returns whether it holds.
  bool WaitUntil(const std::function<bool(const State&)>& done,
                 absl::Duration deadline = kDeadline);
  State state() const;  // a copy
  void set_fail_sink_write(bool v);

 private:
  friend class RecordingSink;
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
};

// One cluster member: handler, service, server on 127.0.0.1 and transport.
class Member {
 public:
  // port 0 picks a free port; Restart() reuses the chosen one.
  explicit Member(uint64_t id, uint64_t cluster_id = kClusterId, int port = 0,
                  PeerTransportOptions options = {});
  ~Member();

  uint64_t id() const { return id_; }
  std::string url() const;
  RecordingHandler& handler() { return handler_; }
  PeerService& service() { return *service_; }
  PeerTransport& transport() { return *transport_; }

  // Stops the server (cancelling open streams) / starts it on the same port.
  void StopServer();
  void StartServer();

 private:
  const uint64_t id_;
  const uint64_t cluster_id_;
  int port_;
  RecordingHandler handler_;
  std::unique_ptr<PeerService> service_;
  PeerServer server_;
  std::unique_ptr<PeerTransport> transport_;
};

// Adds every member to every other member's transport.
void Connect(const std::vector<Member*>& members);

}  // namespace raftkv::rpc::testing

#endif  // RAFTKV_TESTS_RPC_PEER_TEST_UTIL_H_
