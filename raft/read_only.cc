#include "raft/read_only.h"

#include <algorithm>

namespace raftkv::raft {

uint64_t ReadOnly::Add(ReadRequest request, uint64_t commit, uint64_t self) {
  if (open_ && !rounds_.empty()) {
    ReadRound& round = rounds_.back();
    round.index = std::max(round.index, commit);
    round.requests.push_back(std::move(request));
    return 0;
  }
  ReadRound round;
  round.id = next_id_++;
  round.index = commit;
  round.requests.push_back(std::move(request));
  round.acks[self] = true;
  rounds_.push_back(std::move(round));
  open_ = true;
  return rounds_.back().id;
}

std::vector<ReadRound> ReadOnly::Ack(uint64_t from, uint64_t round_id,
                                     const JointConfig& voters) {
  for (ReadRound& round : rounds_) {
    if (round.id > round_id) break;
    round.acks[from] = true;
  }
  std::vector<ReadRound> done;
  while (!rounds_.empty() &&
         voters.Vote(rounds_.front().acks) == VoteResult::kWon) {
    if (open_ && rounds_.size() == 1) open_ = false;
    done.push_back(std::move(rounds_.front()));
    rounds_.pop_front();
  }
  return done;
}

void ReadOnly::Reset() {
  rounds_.clear();
  open_ = false;
}

std::string ReadOnly::EncodeRoundId(uint64_t id) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(id & 0xff);
    id >>= 8;
  }
  return out;
}

uint64_t ReadOnly::DecodeRoundId(const std::string& ctx) {
  if (ctx.size() != 8) return 0;
  uint64_t id = 0;
  for (char c : ctx) id = (id << 8) | static_cast<unsigned char>(c);
  return id;
}

}  // namespace raftkv::raft
