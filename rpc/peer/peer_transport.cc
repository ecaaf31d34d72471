#include "rpc/peer/peer_transport.h"

#include <cstdio>
#include <utility>

#include "absl/status/statusor.h"
#include "rpc/peer/peer_channel.h"

namespace raftkv::rpc {

PeerTransport::PeerTransport(uint64_t id, uint64_t cluster_id,
                             raft::MessageHandler* handler,
                             PeerTransportOptions options)
    : id_(id),
      cluster_id_(cluster_id),
      handler_(handler),
      options_(std::move(options)),
      snapshots_(cluster_id, handler, options_.snapshot_chunk_bytes,
                 options_.sender.channel) {}

PeerTransport::~PeerTransport() { Stop(); }

void PeerTransport::Send(std::vector<raftpb::Message> msgs) {
  absl::ReaderMutexLock lock(&mu_);
  for (raftpb::Message& m : msgs) {
    auto it = peers_.find(m.to());
    // Unknown peers: Raft may still address a member that was just removed.
    if (it == peers_.end() || m.to() == id_) continue;
    it->second->Enqueue(std::move(m));
  }
}

void PeerTransport::SendSnapshot(raftpb::Message m,
                                 std::unique_ptr<raft::SnapshotSource> data) {
  std::string target;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = peers_.find(m.to());
    if (it != peers_.end() && !stopped_) target = it->second->target();
  }
  if (target.empty()) {
    handler_->ReportSnapshot(m.to(), false);
    return;
  }
  snapshots_.Start(target, std::move(m), std::move(data));
}

void PeerTransport::AddPeer(uint64_t id, const std::string& url) {
  absl::StatusOr<std::string> target = PeerUrlToTarget(url);
  if (!target.ok()) {
    std::fprintf(stderr, "raftkv: AddPeer ignored peer=%llu error=\"%s\"\n",
                 static_cast<unsigned long long>(id),
                 std::string(target.status().message()).c_str());
    return;
  }
  if (id == id_) return;  // this member never sends to itself
  auto sender = std::make_unique<PeerSender>(id_, id, cluster_id_, *target,
                                             handler_, options_.sender);
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;  // `sender` stops on destruction, outside mu_
    // After the swap, `sender` holds the replaced one (if any), stopped
    // below without mu_.
    peers_[id].swap(sender);
  }
}

void PeerTransport::RemovePeer(uint64_t id) {
  std::unique_ptr<PeerSender> removed;
  {
    absl::MutexLock lock(&mu_);
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    removed = std::move(it->second);
    peers_.erase(it);
  }
  removed->Stop();
}

void PeerTransport::Stop() {
  std::map<uint64_t, std::unique_ptr<PeerSender>> peers;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    peers.swap(peers_);
  }
  for (auto& [id, sender] : peers) sender->Stop();
  snapshots_.Stop();
}

bool PeerTransport::Connected(uint64_t id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = peers_.find(id);
  return it != peers_.end() && it->second->connected();
}

}  // namespace raftkv::rpc
