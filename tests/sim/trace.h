// Trace: the simulator's flight recorder.
//
// Every event of a simulated run (tick, message send / delivery / drop,
// proposal, read, crash, restart, partition, role change, commit, apply) is
// recorded here. The recorder keeps the last `capacity` events in a ring so
// that a failing seed can print what led up to the violation; in verbose mode
// (a replay with SIM_SEED) it also prints every event as it happens.
//
// Events are stored as plain fields and formatted only when printed: a run
// records hundreds of thousands of them and almost never prints one.
#ifndef RAFTKV_TESTS_SIM_TRACE_H_
#define RAFTKV_TESTS_SIM_TRACE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "raft/raftpb.pb.h"

namespace raftkv::sim {

enum class EventKind {
  kNote,     // free text (schedule changes, partitions, workload actions)
  kSend,     // a node handed a message to the network
  kDeliver,  // the network delivered a message
  kDrop,     // the network dropped a message (loss, partition, dead target)
};

struct Event {
  uint64_t step = 0;
  EventKind kind = EventKind::kNote;
  // Message fields (kSend, kDeliver, kDrop).
  int type = 0;
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t term = 0;
  uint64_t log_term = 0;
  uint64_t index = 0;
  uint64_t commit = 0;
  uint64_t entries = 0;  // number of entries carried (or snapshot index)
  bool reject = false;
  std::string text;  // kNote: the whole line; kDrop: the reason
};

class Trace {
 public:
  // Keeps the last `capacity` events; prints each one to stderr as it is
  // recorded when `verbose`.
  Trace(size_t capacity, bool verbose);

  void set_step(uint64_t step) { step_ = step; }
  uint64_t step() const { return step_; }

  void Note(std::string text);
  void Message(EventKind kind, const raftpb::Message& m,
               std::string reason = "");

  // The recorded events, oldest first, one per line.
  std::string Dump() const;

  static std::string Format(const Event& e);

 private:
  void Record(Event e);

  size_t capacity_;
  bool verbose_;
  uint64_t step_ = 0;
  std::vector<Event> ring_;  // Invariant: size() <= capacity_
  size_t next_ = 0;          // slot of the next event once the ring is full
};

// "MSG_APPEND_ENTRIES" -> "App" etc.: short names keep trace lines readable.
const char* ShortTypeName(int type);

}  // namespace raftkv::sim

#endif  // RAFTKV_TESTS_SIM_TRACE_H_
