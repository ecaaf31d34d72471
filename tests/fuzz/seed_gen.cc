// fuzz_seed_gen: writes the seed corpus of the fuzz targets, one meaningful
// input per file, so that fuzzing starts from messages and requests that get
// past parsing and deep into the code:
//   fuzz_seed_gen <dir>   writes <dir>/fuzz_peer_batch/* and
//                         <dir>/fuzz_client_request/*
// The committed corpus (tests/fuzz/corpus/) is this program's output; run it
// again after changing the input format of a target (docs/fuzzing.md).
//
// Peer seeds are shaped after the state of PeerCluster (peer_cluster.h),
// which this program builds to read the term and log indexes from, so that
// they carry the right terms and indexes for each receiver.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kv/requestpb.pb.h"
#include "rpc/raft_peer.pb.h"
#include "rpc/rpc.pb.h"
#include "tests/fuzz/peer_cluster.h"

namespace {

namespace etcd = etcdserverpb;
using raftkv::fuzz::PeerCluster;
using raftkv::raftpb::Message;
using raftkv::raftpb::MessageType;

std::filesystem::path g_out;

void Write(const std::string& target, const std::string& name,
           uint8_t first_byte, const std::string& payload) {
  const std::filesystem::path dir = g_out / target;
  std::filesystem::create_directories(dir);
  std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
  f.put(static_cast<char>(first_byte));
  f << payload;
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

// ---------------------------------------------------------------------------
// fuzz_peer_batch: option byte (see fuzz_peer_batch.cc) + MessageBatch.

enum Receiver : uint8_t { kToLeader = 0, kToFollower = 1, kToLagging = 2,
                          kToBoth = 3 };
constexpr uint8_t kCompact = 4, kRaw = 8, kNetwork = 16, kTick = 32,
                  kRelative = 64;

// Relative fields (kRelative): zigzag-encoded deltas; a term is 1 + that.
uint64_t Z(int64_t d) {
  return d >= 0 ? 2 * static_cast<uint64_t>(d)
                : 2 * static_cast<uint64_t>(-(d + 1)) + 1;
}
uint64_t ZTerm(int64_t d) { return 1 + Z(d); }

Message Msg(MessageType type, uint64_t from, uint64_t term) {
  Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_term(term);
  return m;
}

void AddEntry(Message* m, uint64_t term, uint64_t index,
              const std::string& data) {
  auto* e = m->add_entries();
  e->set_term(term);
  e->set_index(index);
  e->set_data(data);
}

void Peer(const std::string& name, uint8_t options,
          const std::vector<Message>& msgs) {
  raftkv::peerpb::MessageBatch batch;
  batch.set_cluster_id(0x1234);
  batch.set_from(msgs.empty() ? 0 : msgs[0].from());
  for (const Message& m : msgs) *batch.add_messages() = m;
  Write("fuzz_peer_batch", name, options, batch.SerializeAsString());
}

void PeerSeeds() {
  PeerCluster cluster(/*compact_leader=*/false);
  const raftkv::raft::Status leader = cluster.member(1).raft->GetStatus();
  const raftkv::raft::Status lagging = cluster.member(3).raft->GetStatus();
  const uint64_t term = leader.hard_state.current_term();
  const uint64_t last = leader.last_index;
  const uint64_t lag_last = lagging.last_index;

  // To followers, from the leader (1).
  {
    Message m = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES, 1, term);
    m.set_index(last);
    m.set_log_term(term);
    m.set_commit(last + 1);
    AddEntry(&m, term, last + 1, "x");
    Peer("append_next", kToFollower, {m});
    Peer("append_next_net", kToFollower | kNetwork, {m});
    m.set_index(lag_last);
    m.clear_entries();
    AddEntry(&m, term, lag_last + 1, "d");
    AddEntry(&m, term, lag_last + 2, "e");
    m.set_commit(lag_last + 2);
    Peer("append_catch_up_lagging", kToLagging, {m});
  }
  {
    // A leader of a newer term overwriting the uncommitted tail.
    Message m = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES, 1, term + 1);
    m.set_index(lag_last - 1);
    m.set_log_term(term);
    m.set_commit(lag_last - 1);
    AddEntry(&m, term + 1, lag_last, "y");
    Peer("append_conflict_new_term", kToLagging, {m});
    // A probe the follower must reject (its log does not match).
    Message probe = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES, 1, term);
    probe.set_index(last + 3);
    probe.set_log_term(term);
    probe.set_commit(last);
    Peer("append_probe_mismatch", kToLagging, {probe});
  }
  {
    Message m = Msg(raftkv::raftpb::MSG_HEARTBEAT, 1, term);
    m.set_commit(lag_last);
    m.set_context(std::string("\0\0\0\0\0\0\0\1", 8));
    Peer("heartbeat", kToLagging, {m});
    Peer("heartbeat_tick", kToFollower | kTick, {m});
  }
  {
    Message m = Msg(raftkv::raftpb::MSG_INSTALL_SNAPSHOT, 1, term);
    auto* meta = m.mutable_snapshot()->mutable_metadata();
    meta->set_index(last);
    meta->set_term(term);
    for (uint64_t v : {1, 2, 3}) meta->mutable_conf_state()->add_voters(v);
    m.mutable_snapshot()->set_data("a,b,c,d,e");
    Peer("snapshot", kToLagging, {m});
    meta->set_index(last + 5);
    Peer("snapshot_ahead", kToFollower, {m});
  }
  {
    Message m = Msg(raftkv::raftpb::MSG_TIMEOUT_NOW, 1, term);
    Peer("timeout_now", kToFollower, {m});
    Peer("timeout_now_net", kToFollower | kNetwork, {m});
    Message r = Msg(raftkv::raftpb::MSG_READ_INDEX_RESPONSE, 1, term);
    r.set_index(last);
    r.set_context("read-1");
    Peer("read_index_response", kToFollower, {r});
  }
  // To the leader, from followers (2, 3).
  {
    Message m = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES_RESPONSE, 3, term);
    m.set_index(lag_last);
    Peer("append_response_lagging", kToLeader, {m});
    Peer("append_response_lagging_compacted", kToLeader | kCompact, {m});
    Peer("append_response_lagging_net", kToLeader | kNetwork, {m});
    Message rej = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES_RESPONSE, 3, term);
    rej.set_index(last);
    rej.set_reject(true);
    rej.set_reject_hint(lag_last);
    rej.set_log_term(term);
    Peer("append_response_reject", kToLeader, {rej});
    Peer("append_response_reject_compacted", kToLeader | kCompact, {rej});
  }
  {
    Message m = Msg(raftkv::raftpb::MSG_HEARTBEAT_RESPONSE, 3, term);
    Peer("heartbeat_response", kToLeader, {m});
    m.set_context(std::string("\0\0\0\0\0\0\0\1", 8));
    Peer("heartbeat_response_read", kToLeader | kTick, {m});
  }
  {
    Message m = Msg(raftkv::raftpb::MSG_PROPOSE, 2, 0);
    AddEntry(&m, 0, 0, "proposed");
    Peer("propose_forwarded", kToLeader, {m});
    Peer("propose_to_follower", kToFollower, {m});
    raftkv::raftpb::ConfChange cc;
    auto* change = cc.add_changes();
    change->set_type(raftkv::raftpb::CONF_ADD_LEARNER);
    change->set_node_id(4);
    Message conf = Msg(raftkv::raftpb::MSG_PROPOSE, 2, 0);
    auto* e = conf.add_entries();
    e->set_type(raftkv::raftpb::ENTRY_CONF_CHANGE);
    e->set_data(cc.SerializeAsString());
    Peer("propose_conf_change_net", kToLeader | kNetwork, {conf});
  }
  {
    Message m = Msg(raftkv::raftpb::MSG_READ_INDEX, 2, 0);
    m.set_context("read-1");
    Peer("read_index", kToLeader, {m});
    Peer("read_index_net", kToLeader | kNetwork, {m});
    Message t = Msg(raftkv::raftpb::MSG_TRANSFER_LEADER, 2, 0);
    Peer("transfer_leader_net", kToLeader | kNetwork, {t});
  }
  // Elections, to anyone.
  {
    Message pv = Msg(raftkv::raftpb::MSG_REQUEST_PRE_VOTE, 3, term + 1);
    pv.set_index(last);
    pv.set_log_term(term);
    Peer("pre_vote", kToBoth, {pv});
    Message v = Msg(raftkv::raftpb::MSG_REQUEST_VOTE, 3, term + 1);
    v.set_index(last);
    v.set_log_term(term);
    Peer("vote", kToBoth, {v});
    Peer("vote_tick_net", kToFollower | kTick | kNetwork, {v});
    v.set_context("CampaignTransfer");
    Peer("vote_transfer", kToBoth, {v});
    Message vr = Msg(raftkv::raftpb::MSG_REQUEST_VOTE_RESPONSE, 3, term);
    Message pvr = Msg(raftkv::raftpb::MSG_REQUEST_PRE_VOTE_RESPONSE, 3,
                      term + 1);
    Peer("vote_responses", kToBoth, {vr, pvr});
  }
  // A whole exchange in one batch: a new leader (2) takes over.
  {
    Message v = Msg(raftkv::raftpb::MSG_REQUEST_VOTE, 2, term + 1);
    v.set_index(last);
    v.set_log_term(term);
    v.set_context("CampaignTransfer");
    Message a = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES, 2, term + 1);
    a.set_index(last);
    a.set_log_term(term);
    a.set_commit(last);
    AddEntry(&a, term + 1, last + 1, "");
    Message h = Msg(raftkv::raftpb::MSG_HEARTBEAT, 2, term + 1);
    h.set_commit(last + 1);
    Peer("new_leader_exchange", kToLagging, {v, a, h});
    Peer("new_leader_exchange_raw", kToLagging | kRaw, {v, a, h});
  }
  // Membership changes a follower applies from its log: remove itself,
  // add a learner, a joint change left explicitly.
  {
    Message a = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES, 1, term);
    a.set_index(last);
    a.set_log_term(term);
    a.set_commit(last + 3);
    auto conf_entry = [&](uint64_t index, const raftkv::raftpb::ConfChange& cc) {
      auto* e = a.add_entries();
      e->set_term(term);
      e->set_index(index);
      e->set_type(raftkv::raftpb::ENTRY_CONF_CHANGE);
      e->set_data(cc.SerializeAsString());
    };
    raftkv::raftpb::ConfChange learner;
    auto* c1 = learner.add_changes();
    c1->set_type(raftkv::raftpb::CONF_ADD_LEARNER);
    c1->set_node_id(4);
    conf_entry(last + 1, learner);
    raftkv::raftpb::ConfChange joint;
    joint.set_transition(raftkv::raftpb::TRANSITION_JOINT_EXPLICIT);
    auto* j1 = joint.add_changes();
    j1->set_type(raftkv::raftpb::CONF_ADD_VOTER);
    j1->set_node_id(4);
    auto* j2 = joint.add_changes();
    j2->set_type(raftkv::raftpb::CONF_REMOVE_NODE);
    j2->set_node_id(3);
    conf_entry(last + 2, joint);
    raftkv::raftpb::ConfChange remove_self;
    auto* r1 = remove_self.add_changes();
    r1->set_type(raftkv::raftpb::CONF_REMOVE_NODE);
    r1->set_node_id(2);
    conf_entry(last + 3, remove_self);
    Peer("append_conf_changes", kToFollower, {a});
    Peer("append_conf_changes_net", kToFollower | kNetwork | kTick, {a});
    Message s = Msg(raftkv::raftpb::MSG_INSTALL_SNAPSHOT, 1, term);
    auto* meta = s.mutable_snapshot()->mutable_metadata();
    meta->set_index(last + 2);
    meta->set_term(term);
    auto* cs = meta->mutable_conf_state();
    for (uint64_t v : {1, 2, 4}) cs->add_voters(v);
    for (uint64_t v : {1, 2, 3}) cs->add_voters_outgoing(v);
    cs->add_learners(5);
    cs->set_auto_leave(true);
    Peer("snapshot_joint", kToLagging, {s});
    Peer("snapshot_joint_net", kToLagging | kNetwork | kTick, {s});
  }
  // Relative: the same shapes, as deltas from the receiver's state.
  {
    Message h = Msg(raftkv::raftpb::MSG_HEARTBEAT, 1, ZTerm(0));
    h.set_commit(Z(0));
    Peer("rel_heartbeat", kToLagging | kRelative, {h});
    Message a = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES, 1, ZTerm(0));
    a.set_index(Z(0));
    a.set_log_term(Z(0));
    a.set_commit(Z(1));
    AddEntry(&a, Z(0), Z(1), "x");
    AddEntry(&a, Z(0), Z(2), "y");
    Peer("rel_append", kToFollower | kRelative, {a});
    Peer("rel_append_net", kToLagging | kRelative | kNetwork, {a});
    Message c = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES, 1, ZTerm(1));
    c.set_index(Z(-2));
    c.set_log_term(Z(0));
    c.set_commit(Z(-2));
    AddEntry(&c, Z(1), Z(-1), "z");
    Peer("rel_append_conflict", kToFollower | kRelative, {c});
    Message r = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES_RESPONSE, 3, ZTerm(0));
    r.set_index(Z(-2));
    Peer("rel_append_response", kToLeader | kRelative, {r});
    Peer("rel_append_response_compacted", kToLeader | kRelative | kCompact,
         {r});
    Message rej = r;
    rej.set_reject(true);
    rej.set_reject_hint(Z(-3));
    rej.set_log_term(Z(-1));
    Peer("rel_append_reject", kToLeader | kRelative, {rej});
    Message v = Msg(raftkv::raftpb::MSG_REQUEST_VOTE, 3, ZTerm(1));
    v.set_index(Z(0));
    v.set_log_term(Z(0));
    Peer("rel_vote_net", kToBoth | kRelative | kNetwork, {v});
    Message s = Msg(raftkv::raftpb::MSG_INSTALL_SNAPSHOT, 1, ZTerm(0));
    auto* meta = s.mutable_snapshot()->mutable_metadata();
    meta->set_index(Z(2));
    meta->set_term(Z(0));
    for (uint64_t id : {1, 2, 3}) meta->mutable_conf_state()->add_voters(id);
    Peer("rel_snapshot", kToLagging | kRelative, {s});
  }
  // Raw: messages the transport's door would drop.
  {
    Message m = Msg(raftkv::raftpb::MSG_APPEND_ENTRIES_RESPONSE, 0, term);
    m.set_to(1);
    m.set_index(last);
    Peer("raw_from_zero", kToLeader | kRaw, {m});
    Message self = Msg(raftkv::raftpb::MSG_HEARTBEAT, 2, term);
    self.set_to(2);
    self.set_commit(last);
    Peer("raw_from_self", kToFollower | kRaw, {self});
  }
}

// ---------------------------------------------------------------------------
// fuzz_client_request: selector byte (see fuzz_client_request.cc) + request.

void Client(const std::string& name, uint8_t selector,
            const google::protobuf::Message& req) {
  Write("fuzz_client_request", name, selector, req.SerializeAsString());
}

etcd::RequestOp PutOp(const std::string& k, const std::string& v) {
  etcd::RequestOp op;
  op.mutable_request_put()->set_key(k);
  op.mutable_request_put()->set_value(v);
  return op;
}

void ClientSeeds() {
  {
    etcd::RangeRequest r;
    r.set_key("a");
    Client("range_key", 0, r);
    r.set_range_end(std::string(1, '\0'));
    r.set_limit(2);
    r.set_sort_order(etcd::RangeRequest::DESCEND);
    r.set_sort_target(etcd::RangeRequest::MOD);
    Client("range_all_sorted", 0, r);
    r.set_revision(2);
    r.set_count_only(true);
    Client("range_compacted_rev", 0, r);
    etcd::RangeRequest f;
    f.set_key("a");
    f.set_range_end("m");
    f.set_keys_only(true);
    f.set_min_mod_revision(3);
    f.set_max_create_revision(9);
    f.set_serializable(true);
    Client("range_filtered", 0, f);
  }
  {
    etcd::PutRequest p;
    p.set_key("k");
    p.set_value("v");
    p.set_prev_kv(true);
    Client("put", 1, p);
    p.set_lease(7);
    Client("put_lease", 1, p);
    p.set_lease(99);
    Client("put_unknown_lease", 1, p);
    etcd::PutRequest ign;
    ign.set_key("a");
    ign.set_ignore_value(true);
    ign.set_ignore_lease(true);
    Client("put_ignore", 1, ign);
  }
  {
    etcd::DeleteRangeRequest d;
    d.set_key("a");
    d.set_range_end("c");
    d.set_prev_kv(true);
    Client("delete_range", 2, d);
    d.set_range_end(std::string(1, '\0'));
    Client("delete_to_end", 2, d);
  }
  {
    etcd::TxnRequest t;
    auto* c = t.add_compare();
    c->set_key("a");
    c->set_target(etcd::Compare::VALUE);
    c->set_result(etcd::Compare::EQUAL);
    c->set_value("1");
    auto* c2 = t.add_compare();
    c2->set_key("b");
    c2->set_range_end("z");
    c2->set_target(etcd::Compare::MOD);
    c2->set_result(etcd::Compare::GREATER);
    c2->set_mod_revision(1);
    *t.add_success() = PutOp("a", "2");
    t.add_success()->mutable_request_range()->set_key("b");
    t.add_failure()->mutable_request_delete_range()->set_key("c");
    Client("txn", 3, t);
    // Nested: a put in each branch of a child, a delete beside it.
    etcd::TxnRequest child;
    child.add_compare()->set_key("l");
    child.mutable_compare(0)->set_target(etcd::Compare::LEASE);
    child.mutable_compare(0)->set_lease(7);
    *child.add_success() = PutOp("n", "1");
    *child.add_failure() = PutOp("n", "2");
    etcd::TxnRequest outer;
    *outer.add_success()->mutable_request_txn() = child;
    outer.add_success()->mutable_request_delete_range()->set_key("q");
    etcd::TxnRequest deeper;
    *deeper.add_success()->mutable_request_txn() = outer;
    Client("txn_nested", 3, deeper);
    etcd::TxnRequest dup;
    *dup.add_success() = PutOp("a", "1");
    *dup.add_success() = PutOp("a", "2");
    Client("txn_duplicate_key", 3, dup);
  }
  {
    etcd::CompactionRequest c;
    c.set_revision(6);
    Client("compact", 4, c);
    c.set_revision(1000);
    Client("compact_future", 4, c);
  }
  {
    etcd::LeaseGrantRequest g;
    g.set_ttl(30);
    Client("lease_grant", 5, g);
    g.set_id(7);
    Client("lease_grant_existing", 5, g);
    etcd::LeaseRevokeRequest r;
    r.set_id(7);
    Client("lease_revoke", 6, r);
  }
  {
    etcd::WatchRequest w;
    auto* c = w.mutable_create_request();
    c->set_key("a");
    c->set_range_end(std::string(1, '\0'));
    c->set_start_revision(4);
    c->set_prev_kv(true);
    c->add_filters(etcd::WatchCreateRequest::NODELETE);
    Client("watch_past", 7, w);
    c->set_start_revision(1);
    Client("watch_compacted", 7, w);
    c->set_range_end("a");
    Client("watch_empty_range", 7, w);
    etcd::WatchRequest cancel;
    cancel.mutable_cancel_request()->set_watch_id(1);
    Client("watch_cancel", 7, cancel);
  }
  {
    raftkv::kvpb::InternalRequest r;
    r.set_id(1);
    auto* cp = r.mutable_lease_checkpoint();
    auto* l = cp->add_leases();
    l->set_id(7);
    l->set_ttl(60);
    l->set_remaining_ttl(10);
    Client("internal_lease_checkpoint", 8, r);
    raftkv::kvpb::InternalRequest p;
    p.mutable_put()->set_key("");  // no server in front: the store refuses
    Client("internal_put_empty_key", 8, p);
    raftkv::kvpb::InternalRequest g;
    g.mutable_lease_grant()->set_id(-1);
    g.mutable_lease_grant()->set_ttl(-5);
    Client("internal_lease_grant_negative", 8, g);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  PeerSeeds();
  ClientSeeds();
  return 0;
}
