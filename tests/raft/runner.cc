// Scenario command implementations (see runner.h and docs/raft-scenarios.md).
#include "tests/raft/runner.h"

#include <functional>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "raft/read_only.h"
#include "tests/raft/format.h"

namespace raftkv::raft::scenario {
namespace {

std::string StateLine(const Node& n) {
  if (!n.up()) return absl::StrCat(n.id(), ": down\n");
  return absl::StrCat(FormatStateLine(n.raft().GetStatus()), "\n");
}

std::string StatusText(const Node& n) {
  return n.up() ? FormatStatus(n.raft().GetStatus()) : StateLine(n);
}

std::string LogText(const Node& n) {
  return absl::StrCat("> ", n.id(), " log\n", n.DescribeLog());
}

std::string MachineText(const Node& n) {
  if (!n.up()) return StateLine(n);
  return absl::StrCat(n.DescribeStateMachine(), "\n");
}

// An answer of the core, printed as output.
std::string Answer(const absl::Status& s) {
  return s.ok() ? "ok\n" : absl::StrCat("error: ", s.ToString(), "\n");
}

std::string OrOk(std::string out) { return out.empty() ? "ok\n" : out; }

absl::StatusOr<raftpb::ConfChangeTransition> ParseTransition(
    const Command& cmd) {
  auto it = cmd.options.find("transition");
  if (it == cmd.options.end() || it->second == "auto") {
    return raftpb::TRANSITION_AUTO;
  }
  if (it->second == "implicit") return raftpb::TRANSITION_JOINT_IMPLICIT;
  if (it->second == "explicit") return raftpb::TRANSITION_JOINT_EXPLICIT;
  return absl::InvalidArgumentError(
      absl::StrCat("transition=", it->second, ": want auto|implicit|explicit"));
}

// "MSG_HEARTBEAT" or a number (which may name no type at all).
absl::StatusOr<raftpb::MessageType> ParseMessageType(const std::string& s) {
  raftpb::MessageType t;
  if (raftpb::MessageType_Parse(s, &t)) return t;
  int n = 0;
  if (absl::SimpleAtoi(s, &n)) return static_cast<raftpb::MessageType>(n);
  return absl::InvalidArgumentError(absl::StrCat("type=", s, ": unknown"));
}

// "(2/6,2/7)": term/index of each entry.
absl::Status ParseEntries(const std::string& s, raftpb::Message* m) {
  absl::string_view body = s;
  if (!absl::ConsumePrefix(&body, "(") || !absl::ConsumeSuffix(&body, ")")) {
    return absl::InvalidArgumentError(
        absl::StrCat("entries=", s, ": want (term/index,...)"));
  }
  for (absl::string_view part : absl::StrSplit(body, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> ti = absl::StrSplit(part, '/');
    uint64_t term = 0, index = 0;
    if (!absl::SimpleAtoi(ti.first, &term) ||
        !absl::SimpleAtoi(ti.second, &index)) {
      return absl::InvalidArgumentError(
          absl::StrCat("entries=", s, ": bad entry ", part));
    }
    raftpb::Entry* e = m->add_entries();
    e->set_term(term);
    e->set_index(index);
  }
  return absl::OkStatus();
}

// The fields of an injected message, from inject-msg's options.
absl::StatusOr<raftpb::Message> CraftMessage(const Command& cmd) {
  raftpb::Message m;
  absl::StatusOr<raftpb::MessageType> type =
      ParseMessageType(cmd.options.count("type") ? cmd.options.at("type") : "");
  if (!type.ok()) return type.status();
  m.set_type(*type);
  using Setter = void (raftpb::Message::*)(uint64_t);
  const std::pair<const char*, Setter> numbers[] = {
      {"from", &raftpb::Message::set_from},
      {"to", &raftpb::Message::set_to},
      {"term", &raftpb::Message::set_term},
      {"log-term", &raftpb::Message::set_log_term},
      {"index", &raftpb::Message::set_index},
      {"commit", &raftpb::Message::set_commit},
      {"reject-hint", &raftpb::Message::set_reject_hint}};
  for (const auto& [key, set] : numbers) {
    absl::StatusOr<uint64_t> v = cmd.OptionUint(key, 0);
    if (!v.ok()) return v.status();
    (m.*set)(*v);
  }
  absl::StatusOr<bool> reject = cmd.OptionBool("reject", false);
  if (!reject.ok()) return reject.status();
  m.set_reject(*reject);
  if (auto it = cmd.options.find("context"); it != cmd.options.end()) {
    absl::string_view ctx = it->second;
    uint64_t round = 0;
    if (absl::ConsumePrefix(&ctx, "round:") && absl::SimpleAtoi(ctx, &round)) {
      m.set_context(ReadOnly::EncodeRoundId(round));
    } else {
      m.set_context(it->second);
    }
  }
  if (auto it = cmd.options.find("entries"); it != cmd.options.end()) {
    if (absl::Status s = ParseEntries(it->second, &m); !s.ok()) return s;
  }
  absl::StatusOr<uint64_t> entry_type = cmd.OptionUint("entry-type", 0);
  absl::StatusOr<uint64_t> entry_bytes = cmd.OptionUint("entry-bytes", 0);
  if (!entry_type.ok()) return entry_type.status();
  if (!entry_bytes.ok()) return entry_bytes.status();
  for (raftpb::Entry& e : *m.mutable_entries()) {
    e.set_type(static_cast<raftpb::EntryType>(*entry_type));
    e.set_data(std::string(*entry_bytes, 'x'));
  }
  if (cmd.HasOption("snap-index") || cmd.HasOption("snap-term") ||
      cmd.HasOption("snap-voters") || cmd.HasOption("snap-learners")) {
    auto* meta = m.mutable_snapshot()->mutable_metadata();
    absl::StatusOr<uint64_t> index = cmd.OptionUint("snap-index", 0);
    absl::StatusOr<uint64_t> term = cmd.OptionUint("snap-term", 0);
    absl::StatusOr<std::vector<uint64_t>> voters =
        cmd.OptionList("snap-voters");
    absl::StatusOr<std::vector<uint64_t>> learners =
        cmd.OptionList("snap-learners");
    for (const absl::Status& st : {index.status(), term.status(),
                                   voters.status(), learners.status()}) {
      if (!st.ok()) return st;
    }
    meta->set_index(*index);
    meta->set_term(*term);
    for (uint64_t id : *voters) meta->mutable_conf_state()->add_voters(id);
    for (uint64_t id : *learners) meta->mutable_conf_state()->add_learners(id);
  }
  return m;
}

}  // namespace

absl::StatusOr<Node*> Runner::Target(const Command& cmd) {
  absl::StatusOr<uint64_t> id = cmd.ArgUint(0);
  if (!id.ok()) return id.status();
  return cluster_.Live(*id);
}

absl::StatusOr<std::string> Runner::Run(const Command& cmd) {
  using Fn = std::function<absl::StatusOr<std::string>()>;
  // Commands that act on one live node given as the first argument.
  using NodeFn = std::function<std::string(Node&)>;
  const std::map<std::string, NodeFn> node_cmds = {
      {"campaign",
       [](Node& n) {
         n.raft().Campaign();
         return StateLine(n);
       }},
      {"propose",
       [&cmd](Node& n) {
         return Answer(
             n.raft().Propose(cmd.args.size() > 1 ? cmd.args[1] : ""));
       }},
      {"read-index",
       [&cmd](Node& n) {
         n.raft().ReadIndex(cmd.args.size() > 1 ? cmd.args[1] : "");
         return std::string("ok\n");
       }},
      {"tick-heartbeat",
       [](Node& n) {
         for (int i = 0; i < n.options().heartbeat_tick; ++i) n.raft().Tick();
         return StateLine(n);
       }},
      {"tick-election",
       [](Node& n) {
         // The randomized timeout lies in [election_tick, 2*election_tick),
         // so this many ticks surely fire it (twice if it drew the minimum).
         for (int i = 0; i < 2 * n.options().election_tick; ++i) {
           n.raft().Tick();
         }
         return StateLine(n);
       }},
  };
  if (auto it = node_cmds.find(cmd.name); it != node_cmds.end()) {
    absl::StatusOr<Node*> n = Target(cmd);
    if (!n.ok()) return n.status();
    return it->second(**n);
  }

  const std::map<std::string, Fn> cmds = {
      {"add-nodes", [&] { return AddNodes(cmd); }},
      {"tick", [&] { return Tick(cmd); }},
      {"propose-conf-change", [&] { return ProposeConfChange(cmd); }},
      {"transfer-leadership",
       [&]() -> absl::StatusOr<std::string> {
         absl::StatusOr<Node*> n = Target(cmd);
         absl::StatusOr<uint64_t> to = cmd.ArgUint(1);
         if (!n.ok()) return n.status();
         if (!to.ok()) return to.status();
         (*n)->raft().TransferLeadership(*to);
         return std::string("ok\n");
       }},
      {"report-unreachable",
       [&]() -> absl::StatusOr<std::string> {
         absl::StatusOr<Node*> n = Target(cmd);
         absl::StatusOr<uint64_t> to = cmd.ArgUint(1);
         if (!n.ok()) return n.status();
         if (!to.ok()) return to.status();
         (*n)->raft().ReportUnreachable(*to);
         return std::string("ok\n");
       }},
      {"report-snapshot",
       [&]() -> absl::StatusOr<std::string> {
         absl::StatusOr<Node*> n = Target(cmd);
         absl::StatusOr<uint64_t> to = cmd.ArgUint(1);
         absl::StatusOr<bool> ok = cmd.OptionBool("ok", true);
         if (!n.ok()) return n.status();
         if (!to.ok()) return to.status();
         if (!ok.ok()) return ok.status();
         (*n)->raft().ReportSnapshot(*to, *ok);
         return std::string("ok\n");
       }},
      {"process-ready", [&] { return ProcessReady(cmd); }},
      {"deliver-msgs", [&] { return DeliverMsgs(cmd); }},
      {"drop-msgs",
       [&]() -> absl::StatusOr<std::string> {
         absl::StatusOr<std::vector<uint64_t>> ids = cmd.ArgUints(0);
         if (!ids.ok()) return ids.status();
         return OrOk(cluster_.DropMessages({ids->begin(), ids->end()}));
       }},
      {"partition", [&] { return Partition(cmd); }},
      {"heal",
       [&]() -> absl::StatusOr<std::string> {
         cluster_.Heal();
         return std::string("ok\n");
       }},
      {"crash",
       [&]() -> absl::StatusOr<std::string> {
         absl::StatusOr<uint64_t> id = cmd.ArgUint(0);
         if (!id.ok()) return id.status();
         absl::Status s = cluster_.Crash(*id);
         if (!s.ok()) return s;
         return std::string("ok\n");
       }},
      {"restart",
       [&]() -> absl::StatusOr<std::string> {
         absl::StatusOr<uint64_t> id = cmd.ArgUint(0);
         if (!id.ok()) return id.status();
         absl::Status s = cluster_.Restart(*id);
         if (!s.ok()) return Answer(s);
         return StateLine(**cluster_.Get(*id));
       }},
      {"stabilize",
       [&]() -> absl::StatusOr<std::string> {
         absl::StatusOr<std::vector<uint64_t>> ids = cmd.ArgUints(0);
         if (!ids.ok()) return ids.status();
         absl::StatusOr<std::string> out = cluster_.Stabilize(*ids);
         if (!out.ok()) return out.status();
         return OrOk(*out);
       }},
      {"status", [&] { return ForEachLive(cmd, StatusText); }},
      {"raft-log", [&] { return ForEachLive(cmd, LogText); }},
      {"state-machine", [&] { return ForEachLive(cmd, MachineText); }},
      {"raft-state", [&] { return ForEachLive(cmd, StateLine); }},
      {"compact", [&] { return Compact(cmd); }},
      {"inject-msg", [&] { return InjectMsg(cmd); }},
  };
  auto it = cmds.find(cmd.name);
  if (it == cmds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command: ", cmd.name));
  }
  return it->second();
}

absl::StatusOr<std::string> Runner::AddNodes(const Command& cmd) {
  absl::Status s = cmd.CheckOptions({"voters", "pre-vote", "check-quorum",
                                     "election-tick", "heartbeat-tick",
                                     "max-inflight", "max-msg-size", "seed"});
  absl::StatusOr<uint64_t> n = cmd.ArgUint(0);
  absl::StatusOr<std::vector<uint64_t>> voters = cmd.OptionList("voters");
  absl::StatusOr<bool> pre_vote = cmd.OptionBool("pre-vote", true);
  absl::StatusOr<bool> check_quorum = cmd.OptionBool("check-quorum", true);
  absl::StatusOr<uint64_t> et = cmd.OptionUint("election-tick", 10);
  absl::StatusOr<uint64_t> ht = cmd.OptionUint("heartbeat-tick", 1);
  absl::StatusOr<uint64_t> inflight = cmd.OptionUint("max-inflight", 256);
  absl::StatusOr<uint64_t> msg_size = cmd.OptionUint("max-msg-size", 1 << 20);
  absl::StatusOr<uint64_t> seed = cmd.OptionUint("seed", 0);
  for (const absl::Status& st :
       {s, n.status(), voters.status(), pre_vote.status(),
        check_quorum.status(), et.status(), ht.status(), inflight.status(),
        msg_size.status(), seed.status()}) {
    if (!st.ok()) return st;
  }
  NodeOptions opts;
  opts.pre_vote = *pre_vote;
  opts.check_quorum = *check_quorum;
  opts.election_tick = static_cast<int>(*et);
  opts.heartbeat_tick = static_cast<int>(*ht);
  opts.max_inflight_msgs = static_cast<int>(*inflight);
  opts.max_size_per_msg = *msg_size;
  opts.seed = *seed;
  const uint64_t first = cluster_.MaxId() + 1;
  // The first nodes bootstrap a cluster of themselves unless told otherwise;
  // later nodes start empty and join through a membership change.
  if (voters->empty() && first == 1) {
    for (uint64_t id = 1; id <= *n; ++id) voters->push_back(id);
  }
  std::string out;
  for (uint64_t id = first; id < first + *n; ++id) {
    absl::Status st = cluster_.AddNode(id, opts, *voters);
    if (!st.ok()) return st;
    // Like a real server's first start, persist and apply the bootstrap
    // entries before anything else happens (they produce no messages).
    while ((*cluster_.Get(id))->raft().HasReady()) {
      cluster_.ProcessReady(id, "");
    }
    absl::StrAppend(&out, StateLine(**cluster_.Get(id)));
  }
  return out;
}

absl::StatusOr<std::string> Runner::Tick(const Command& cmd) {
  absl::StatusOr<Node*> n = Target(cmd);
  absl::StatusOr<uint64_t> count =
      cmd.args.size() > 1 ? cmd.ArgUint(1) : absl::StatusOr<uint64_t>(1);
  if (!n.ok()) return n.status();
  if (!count.ok()) return count.status();
  for (uint64_t i = 0; i < *count; ++i) (*n)->raft().Tick();
  return StateLine(**n);
}

absl::StatusOr<std::string> Runner::ProposeConfChange(const Command& cmd) {
  absl::StatusOr<Node*> n = Target(cmd);
  absl::StatusOr<raftpb::ConfChangeTransition> transition =
      ParseTransition(cmd);
  if (!n.ok()) return n.status();
  if (!transition.ok()) return transition.status();
  raftpb::ConfChange cc;
  cc.set_transition(*transition);
  for (size_t i = 1; i < cmd.args.size(); ++i) {
    const std::string& a = cmd.args[i];
    raftpb::ConfChangeSingle* c = cc.add_changes();
    uint64_t id = 0;
    if (a.size() < 2 || !absl::SimpleAtoi(a.substr(1), &id)) {
      return absl::InvalidArgumentError(absl::StrCat("bad change: ", a));
    }
    c->set_node_id(id);
    switch (a[0]) {
      case 'v':
        c->set_type(raftpb::CONF_ADD_VOTER);
        break;
      case 'l':
        c->set_type(raftpb::CONF_ADD_LEARNER);
        break;
      case 'r':
        c->set_type(raftpb::CONF_REMOVE_NODE);
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("bad change: ", a, " (want vN, lN or rN)"));
    }
  }
  return Answer((*n)->raft().ProposeConfChange(cc));
}

absl::StatusOr<std::string> Runner::ProcessReady(const Command& cmd) {
  absl::StatusOr<std::vector<uint64_t>> ids = cmd.ArgUints(0);
  if (!ids.ok()) return ids.status();
  if (ids->empty()) {
    return absl::InvalidArgumentError("process-ready: which nodes?");
  }
  std::string out;
  for (uint64_t id : *ids) {
    absl::StatusOr<Node*> n = cluster_.Live(id);
    if (!n.ok()) return n.status();
    std::string rd = cluster_.ProcessReady(id, "  ");
    absl::StrAppend(&out, "> ", id, " ready\n", rd.empty() ? "  (none)\n" : rd);
  }
  return out;
}

absl::StatusOr<std::string> Runner::DeliverMsgs(const Command& cmd) {
  absl::Status s = cmd.CheckOptions({"drop"});
  absl::StatusOr<std::vector<uint64_t>> to = cmd.ArgUints(0);
  absl::StatusOr<std::vector<uint64_t>> drop = cmd.OptionList("drop");
  if (!s.ok()) return s;
  if (!to.ok()) return to.status();
  if (!drop.ok()) return drop.status();
  std::string out =
      cluster_.Deliver({to->begin(), to->end()}, {drop->begin(), drop->end()},
                       /*verbose=*/true, "");
  return out.empty() ? "(no messages)\n" : out;
}

absl::StatusOr<std::string> Runner::Partition(const Command& cmd) {
  std::vector<std::set<uint64_t>> groups;
  for (const std::string& a : cmd.args) {
    absl::StatusOr<std::vector<uint64_t>> ids = ParseIdList(a);
    if (!ids.ok()) return ids.status();
    groups.emplace_back(ids->begin(), ids->end());
  }
  cluster_.Partition(std::move(groups));
  return std::string("ok\n");
}

absl::StatusOr<std::string> Runner::Compact(const Command& cmd) {
  absl::StatusOr<Node*> n = Target(cmd);
  if (!n.ok()) return n.status();
  absl::StatusOr<uint64_t> index =
      cmd.args.size() > 1
          ? cmd.ArgUint(1)
          : absl::StatusOr<uint64_t>((*n)->raft().GetStatus().applied);
  if (!index.ok()) return index.status();
  absl::Status s = (*n)->Compact(*index);
  if (!s.ok()) return s;
  return LogText(**n);
}

absl::StatusOr<std::string> Runner::InjectMsg(const Command& cmd) {
  absl::Status s = cmd.CheckOptions(
      {"type", "from", "to", "term", "log-term", "index", "commit",
       "reject-hint", "reject", "context", "entries", "entry-type",
       "entry-bytes", "snap-index", "snap-term", "snap-voters",
       "snap-learners"});
  if (!s.ok()) return s;
  absl::StatusOr<raftpb::Message> m = CraftMessage(cmd);
  if (!m.ok()) return m.status();
  // The receiving node: the first argument, else `to`.
  absl::StatusOr<uint64_t> into =
      cmd.args.empty() ? absl::StatusOr<uint64_t>(m->to()) : cmd.ArgUint(0);
  if (!into.ok()) return into.status();
  absl::StatusOr<Node*> n = cluster_.Live(*into);
  if (!n.ok()) return n.status();
  const absl::Status step = (*n)->raft().Step(*m);
  return absl::StrCat(FormatMessage(*m), "\n", Answer(step));
}

absl::StatusOr<std::string> Runner::ForEachLive(
    const Command& cmd, std::string (*describe)(const Node&)) {
  absl::StatusOr<std::vector<uint64_t>> ids = cmd.ArgUints(0);
  if (!ids.ok()) return ids.status();
  absl::StatusOr<std::vector<uint64_t>> sel = cluster_.Select(*ids);
  if (!sel.ok()) return sel.status();
  std::string out;
  for (uint64_t id : *sel) absl::StrAppend(&out, describe(**cluster_.Get(id)));
  return OrOk(out);
}

}  // namespace raftkv::raft::scenario
