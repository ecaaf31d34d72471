// Members: the cluster's member list (IDs, names, peer and client URLs,
// learner flag), as `etcdctl member list` shows it. Raft's own membership
// holds only IDs; this registry adds the rest and is kept in step by the
// apply thread, from conf-change entries and members' "publish" entries.
//
// Persistent format: <data-dir>/members.pb, a serialized kvpb::MemberList,
// replaced atomically (write to .tmp, fsync, rename, fsync the directory).
// It is written BEFORE the applied index that covers the change is, so a
// crash replays the change (every update here is idempotent).
//
// Thread safety: thread-safe; readers get copies.
#ifndef RAFTKV_KV_MEMBERS_H_
#define RAFTKV_KV_MEMBERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kv/requestpb.pb.h"

namespace raftkv::kv {

// Member and cluster IDs exactly as etcd 3.4 derives them, so the same flags
// give the same IDs as etcd would (and every member computes the same IDs
// from the same --initial-cluster): a member's is the first 8 bytes
// (big-endian) of SHA-1(sorted peer URLs concatenated + cluster token); the
// cluster's, of SHA-1(the sorted member IDs as big-endian 8-byte words). The
// token reaches the cluster ID through the member IDs.
uint64_t MemberIdFor(const std::vector<std::string>& peer_urls,
                     const std::string& cluster_token);
uint64_t ClusterIdFor(const std::vector<uint64_t>& member_ids,
                      const std::string& cluster_token);

class Members {
 public:
  // Loads <dir>/members.pb if present; otherwise starts from `initial`
  // (written at once).
  static absl::StatusOr<std::unique_ptr<Members>> Open(
      const std::string& dir, const kvpb::MemberList& initial);

  kvpb::MemberList List() const;
  uint64_t cluster_id() const;
  bool Contains(uint64_t id) const;

  // Adds or replaces a member (keeping its client URLs if the update has
  // none), removes one, or records a member's name and client URLs. Each
  // persists before returning.
  absl::Status Upsert(const kvpb::Member& member);
  absl::Status Remove(uint64_t id);
  absl::Status Publish(const kvpb::Member& attributes);
  // Re-reads the file (after a snapshot replaced it).
  absl::Status Reload();

 private:
  explicit Members(std::string path) : path_(std::move(path)) {}
  absl::Status Persist() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  mutable absl::Mutex mu_;
  kvpb::MemberList list_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_MEMBERS_H_
