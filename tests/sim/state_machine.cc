// StateMachine: applied proposals and their snapshot format (see
// state_machine.h). Payload format: "index:data;" per command, in order
// (proposal data never contains ':' or ';').
#include "tests/sim/state_machine.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace raftkv::sim {

void StateMachine::ApplyCommand(uint64_t index, std::string data) {
  commands_.push_back(AppliedCommand{index, std::move(data)});
  applied_ = index;
}

std::string StateMachine::Serialize() const {
  std::string out;
  for (const AppliedCommand& c : commands_) {
    absl::StrAppend(&out, c.index, ":", c.data, ";");
  }
  return out;
}

bool StateMachine::Restore(uint64_t index, const std::string& payload) {
  std::vector<AppliedCommand> commands;
  for (absl::string_view item :
       absl::StrSplit(payload, ';', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits(':', 1));
    AppliedCommand c;
    if (!absl::SimpleAtoi(kv.first, &c.index) || c.index > index) return false;
    if (!commands.empty() && commands.back().index >= c.index) return false;
    c.data = std::string(kv.second);
    commands.push_back(std::move(c));
  }
  commands_ = std::move(commands);
  applied_ = index;
  return true;
}

}  // namespace raftkv::sim
