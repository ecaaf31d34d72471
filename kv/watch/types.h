// The vocabulary of the watch hub (kv/watch/watch_hub.h): what a client asks
// to watch (WatchSpec), the immutable batch of events the hub reads once from
// the store and shares between every watcher that receives it (EventBatch),
// and the messages a stream hands to its transport (WatchMessage).
#ifndef RAFTKV_KV_WATCH_TYPES_H_
#define RAFTKV_KV_WATCH_TYPES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "kv/mvccpb.pb.h"

namespace raftkv::kv::watch {

// etcd's watch id for "none": a refused create, or a progress notification
// broadcast to every watcher of a stream.
constexpr int64_t kInvalidWatchId = -1;

// One watch, as a WatchCreateRequest describes it.
struct WatchSpec {
  // [key, range_end) with etcd's conventions: empty range_end watches `key`
  // alone; range_end "\0" watches every key >= key. An empty key means "\0".
  std::string key;
  std::string range_end;
  // The first revision to deliver; 0 means "now" (the hub's revision + 1).
  int64_t start_revision = 0;
  // 0: the stream picks the lowest free id; else the client's choice.
  int64_t watch_id = 0;
  bool no_put = false;
  bool no_delete = false;
  bool prev_kv = false;
  bool progress_notify = false;
  bool fragment = false;

  // Normalizes `key` (empty -> "\0") and checks the range. Errors carry
  // etcd's cancel_reason ("mvcc: watcher range is empty").
  absl::Status Normalize();
  // Whether `key` lies in the watched range. REQUIRES: Normalize() succeeded.
  bool Contains(const std::string& key) const;
  // Whether `event` passes the filters.
  bool Accepts(const mvccpb::Event& event) const;
};

// Events read once from the store's change log, shared read-only by every
// watcher and stream that delivers them (no per-watcher copies of payloads).
// Invariant: events are in revision order, cover whole revisions only, and
// every event's revision lies in [first_revision, last_revision]; prev_kv is
// filled wherever the store still had it.
struct EventBatch {
  std::vector<mvccpb::Event> events;
  int64_t first_revision = 0;
  int64_t last_revision = 0;
};

// One response for the transport to send, in stream order.
struct WatchMessage {
  enum class Kind { kCreated, kCanceled, kEvents, kProgress };
  Kind kind = Kind::kEvents;
  int64_t watch_id = kInvalidWatchId;
  // The header revision: for events and progress notifications, every event
  // of this watcher (of every watcher for a broadcast) up to it has been
  // handed to the stream before this message, or is in it.
  int64_t revision = 0;
  // kCanceled: set when the watcher's next revision was compacted away.
  int64_t compact_revision = 0;
  // kCanceled (and a refused kCreated): etcd's reason, if any.
  std::string cancel_reason;
  // kEvents: the watcher's flags, so the transport need not look it up.
  bool prev_kv = false;
  bool fragment = false;
  // kEvents: the events are batch->events[i] for i in `indices`, ascending.
  std::shared_ptr<const EventBatch> batch;
  std::vector<uint32_t> indices;
};

struct HubOptions {
  // Events per read of the change log (live and catch-up); a read never
  // splits a revision, so a batch may exceed it by one revision's events.
  size_t read_limit = 1000;
  // Event messages a stream may hold unsent. A watcher whose stream is full
  // leaves the live set and catches up from the store once there is room.
  size_t stream_capacity = 128;
  // Period of progress notifications for watchers that asked for them
  // (etcd's default: 10 minutes).
  absl::Duration progress_interval = absl::Minutes(10);
};

}  // namespace raftkv::kv::watch

#endif  // RAFTKV_KV_WATCH_TYPES_H_
