// Network: delays, drops, duplicates, reorders and partitions (see network.h).
#include "tests/sim/network.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace raftkv::sim {

uint64_t Network::Delay() {
  std::uniform_int_distribution<uint64_t> d(faults_.min_delay,
                                            faults_.max_delay);
  return d(*rng_);
}

void Network::Send(raftpb::Message m, uint64_t now,
                   uint64_t sender_incarnation) {
  std::uniform_real_distribution<double> coin(0, 1);
  trace_->Message(EventKind::kSend, m);
  if (faults_.drop > 0 && coin(*rng_) < faults_.drop) {
    trace_->Message(EventKind::kDrop, m, "lost");
    return;
  }
  if (faults_.duplicate > 0 && coin(*rng_) < faults_.duplicate) {
    uint64_t at = now + Delay();
    queue_.emplace(std::make_pair(at, next_seq_),
                   InFlight{at, next_seq_, sender_incarnation, m});
    ++next_seq_;
  }
  uint64_t at = now + Delay();
  queue_.emplace(std::make_pair(at, next_seq_),
                 InFlight{at, next_seq_, sender_incarnation, std::move(m)});
  ++next_seq_;
}

std::vector<InFlight> Network::TakeDue(uint64_t now,
                                       std::vector<InFlight>* blocked) {
  std::vector<InFlight> due;
  while (!queue_.empty() && queue_.begin()->first.first <= now) {
    auto node = queue_.extract(queue_.begin());
    InFlight& f = node.mapped();
    if (LinkOpen(f.msg.from(), f.msg.to())) {
      due.push_back(std::move(f));
    } else {
      trace_->Message(EventKind::kDrop, f.msg, "partition");
      blocked->push_back(std::move(f));
    }
  }
  return due;
}

void Network::Block(const std::vector<uint64_t>& from,
                    const std::vector<uint64_t>& to) {
  for (uint64_t f : from) {
    for (uint64_t t : to) blocked_.insert({f, t});
  }
}

void Network::PartitionSymmetric(const std::vector<uint64_t>& a,
                                 const std::vector<uint64_t>& b) {
  blocked_.clear();
  Block(a, b);
  Block(b, a);
  trace_->Note(absl::StrCat("partition symmetric ", GroupsToString(a, b)));
}

void Network::PartitionOneWay(const std::vector<uint64_t>& a,
                              const std::vector<uint64_t>& b) {
  blocked_.clear();
  Block(a, b);
  trace_->Note(absl::StrCat("partition one-way ", GroupsToString(a, b), " (",
                            absl::StrJoin(a, ","), " cannot send to ",
                            absl::StrJoin(b, ","), ")"));
}

void Network::PartitionBridge(const std::vector<uint64_t>& a,
                              const std::vector<uint64_t>& b, uint64_t bridge) {
  blocked_.clear();
  Block(a, b);
  Block(b, a);
  trace_->Note(absl::StrCat("partition bridge ", GroupsToString(a, b),
                            " bridge=", bridge));
}

void Network::Heal() {
  if (!blocked_.empty()) trace_->Note("heal partition");
  blocked_.clear();
}

std::string GroupsToString(const std::vector<uint64_t>& a,
                           const std::vector<uint64_t>& b) {
  return absl::StrCat("{", absl::StrJoin(a, ","), "} | {",
                      absl::StrJoin(b, ","), "}");
}

}  // namespace raftkv::sim
