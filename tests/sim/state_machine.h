// StateMachine: the simulated application a node applies committed entries
// to — the ordered list of applied proposals (non-empty ENTRY_NORMAL data).
//
// Durability model (documented in docs/simulator.md): the state machine is
// durable and is persisted atomically with every apply, like raftkv's kv/
// which writes the applied index in the same LevelDB batch as the data. A
// crash therefore keeps `applied()`, and a restart passes it as
// Config::applied. Snapshots carry the whole list, serialized by
// Serialize().
#ifndef RAFTKV_TESTS_SIM_STATE_MACHINE_H_
#define RAFTKV_TESTS_SIM_STATE_MACHINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace raftkv::sim {

struct AppliedCommand {
  uint64_t index = 0;  // Raft log index it was applied from
  std::string data;
};

class StateMachine {
 public:
  // Applies a data entry (the caller skips empty and conf-change entries but
  // still reports their index through Advance()).
  void ApplyCommand(uint64_t index, std::string data);
  // Marks everything up to `index` as applied. REQUIRES: index >= applied().
  void AdvanceTo(uint64_t index) { applied_ = index; }

  // The snapshot payload: every applied command with its index.
  std::string Serialize() const;
  // Replaces the state with a snapshot payload taken at `index`. Returns
  // false if the payload is malformed.
  bool Restore(uint64_t index, const std::string& payload);

  uint64_t applied() const { return applied_; }
  // The read result of the linearizability check: how many commands applied.
  size_t size() const { return commands_.size(); }
  const std::vector<AppliedCommand>& commands() const { return commands_; }

 private:
  uint64_t applied_ = 0;
  // Invariant: indexes strictly increase and are <= applied_.
  std::vector<AppliedCommand> commands_;
};

}  // namespace raftkv::sim

#endif  // RAFTKV_TESTS_SIM_STATE_MACHINE_H_
