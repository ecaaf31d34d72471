// Randomized cross-check of MvccStore against the naive Model: thousands of
// random Put / DeleteRange / Txn / Compact / Range-at-revision /
// ReadChanges operations, applied in random batches, with close-and-reopen
// at random points. Any divergence names the seed and the operation.
//
//   KV_MODEL_SEEDS=50 ./kv_model_test      # run seeds 1..50
//   KV_MODEL_SEED=17 ./kv_model_test       # replay seed 17 only
//   KV_MODEL_OPS=20000 ./kv_model_test     # operations per seed
#include "tests/kv/model.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "tests/kv/store_harness.h"

namespace raftkv::kv::testing {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RequestOp;
using google::protobuf::util::MessageDifferencer;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::atoi(v);
}

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  bool OneIn(int n) { return Uniform(1, n) == 1; }

  std::string Key() {
    static const char* const kKeys[] = {"a", "ab", "abc",  "b",        "ba",
                                        "c", "d",  "\xff", "\xff\xff", "a\xff"};
    if (OneIn(20)) return std::string("a\0b", 3);
    return kKeys[Uniform(0, 9)];
  }
  std::string Value() {
    return std::string(Uniform(0, 3), 'v' + Uniform(0, 2));
  }

  // key/range_end in one of etcd's shapes: single, prefix, [k1, k2), from-key,
  // all keys.
  void Range(std::string* key, std::string* end) {
    *key = Key();
    switch (Uniform(0, 4)) {
      case 0:
        end->clear();
        break;
      case 1: {  // prefix
        std::string e = *key;
        while (!e.empty() && static_cast<uint8_t>(e.back()) == 0xff)
          e.pop_back();
        if (e.empty()) {
          *end = std::string(1, '\0');
        } else {
          e.back() = static_cast<char>(e.back() + 1);
          *end = e;
        }
        break;
      }
      case 2:
        *end = Key();
        break;
      case 3:
        *end = std::string(1, '\0');
        break;
      default:
        *key = std::string(1, '\0');
        *end = std::string(1, '\0');
    }
  }

  etcdserverpb::PutRequest Put() {
    etcdserverpb::PutRequest req;
    req.set_key(Key());
    req.set_prev_kv(OneIn(2));
    if (OneIn(8)) {
      req.set_ignore_value(true);
    } else {
      req.set_value(Value());
    }
    if (OneIn(8)) {
      req.set_ignore_lease(true);
    } else if (OneIn(3)) {
      req.set_lease(Uniform(1, 3));
    }
    return req;
  }

  etcdserverpb::DeleteRangeRequest Delete() {
    etcdserverpb::DeleteRangeRequest req;
    Range(req.mutable_key(), req.mutable_range_end());
    if (OneIn(3)) req.set_range_end("");
    req.set_prev_kv(OneIn(2));
    return req;
  }

  RangeRequest Read(int64_t current, int64_t compact) {
    RangeRequest req;
    Range(req.mutable_key(), req.mutable_range_end());
    if (OneIn(2)) req.set_revision(Uniform(compact - 1, current + 1));
    if (OneIn(2)) req.set_limit(Uniform(0, 4));
    if (OneIn(4)) req.set_sort_order(RangeRequest::SortOrder(Uniform(0, 2)));
    if (OneIn(4)) req.set_sort_target(RangeRequest::SortTarget(Uniform(0, 4)));
    req.set_count_only(OneIn(6));
    req.set_keys_only(OneIn(6));
    if (OneIn(6)) req.set_min_mod_revision(Uniform(0, current));
    if (OneIn(6)) req.set_max_mod_revision(Uniform(0, current));
    if (OneIn(6)) req.set_min_create_revision(Uniform(0, current));
    if (OneIn(6)) req.set_max_create_revision(Uniform(0, current));
    return req;
  }

  etcdserverpb::TxnRequest Txn(int64_t current, int64_t compact, int depth) {
    etcdserverpb::TxnRequest req;
    for (int i = Uniform(0, 2); i > 0; --i) {
      Compare* c = req.add_compare();
      c->set_key(Key());
      if (OneIn(5)) Range(c->mutable_key(), c->mutable_range_end());
      if (c->key().empty()) c->set_key("a");
      c->set_result(Compare::CompareResult(Uniform(0, 3)));
      c->set_target(Compare::CompareTarget(Uniform(0, 4)));
      switch (c->target()) {
        case Compare::VALUE:
          c->set_value(Value());
          break;
        case Compare::VERSION:
          c->set_version(Uniform(0, 3));
          break;
        case Compare::CREATE:
          c->set_create_revision(Uniform(0, current));
          break;
        case Compare::MOD:
          c->set_mod_revision(Uniform(0, current));
          break;
        default:
          c->set_lease(Uniform(0, 3));
      }
    }
    for (auto* branch : {req.mutable_success(), req.mutable_failure()}) {
      for (int i = Uniform(0, 3); i > 0; --i) {
        RequestOp* op = branch->Add();
        switch (Uniform(0, depth > 0 ? 3 : 4)) {
          case 0:
            *op->mutable_request_range() = Read(current, compact);
            break;
          case 1:
          case 2:
            *op->mutable_request_put() = Put();
            break;
          case 3:
            *op->mutable_request_delete_range() = Delete();
            break;
          default:
            *op->mutable_request_txn() = Txn(current, compact, depth + 1);
        }
      }
    }
    return req;
  }

 private:
  std::mt19937 rng_;
};

// One write request of either kind, owned.
struct Write {
  std::variant<etcdserverpb::PutRequest, etcdserverpb::DeleteRangeRequest,
               etcdserverpb::TxnRequest, etcdserverpb::CompactionRequest>
      req;
  std::string Describe() const {
    return std::visit(
        [](const auto& r) {
          return r.GetTypeName() + " " + r.ShortDebugString();
        },
        req);
  }
};

template <typename Resp>
std::string Compare2(const absl::StatusOr<Resp>& want,
                     const absl::StatusOr<ApplyResponse>& got) {
  if (want.ok() != got.ok()) {
    return "model: " +
           (want.ok() ? want->ShortDebugString() : want.status().ToString()) +
           "\nstore: " + (got.ok() ? "ok" : got.status().ToString());
  }
  if (!want.ok()) {
    return want.status() == got.status()
               ? ""
               : "model: " + want.status().ToString() +
                     "\nstore: " + got.status().ToString();
  }
  const Resp& g = std::get<Resp>(*got);
  if (MessageDifferencer::Equals(*want, g)) return "";
  return "model: " + want->ShortDebugString() +
         "\nstore: " + g.ShortDebugString();
}

void RunSeed(uint32_t seed, int ops,
             size_t meta_cache_entries = MvccOptions().meta_cache_entries) {
  Generator gen(seed);
  Model model;
  StoreHarness h(meta_cache_entries);
  h.GrantLeases(1, 3);  // the leases the generator's puts name
  auto fail = [&](int step, const std::string& op, const std::string& diff) {
    ADD_FAILURE() << "divergence: seed=" << seed << " step=" << step
                  << "\nop: " << op << "\n"
                  << diff << "\nreplay: KV_MODEL_SEED=" << seed;
  };
  for (int step = 0; step < ops; ++step) {
    int64_t current = model.revision(), compact = model.compact_revision();
    int dice = gen.Uniform(0, 99);
    if (dice < 2) {
      h.Reopen();
      continue;
    }
    if (dice < 45) {  // a batch of writes
      std::vector<Write> writes(gen.Uniform(1, 4));
      for (Write& w : writes) {
        int kind = gen.Uniform(0, 19);
        if (kind < 8) {
          w.req = gen.Put();
        } else if (kind < 12) {
          w.req = gen.Delete();
        } else if (kind < 19) {
          w.req = gen.Txn(current, compact, 0);
        } else {
          etcdserverpb::CompactionRequest c;
          c.set_revision(gen.Uniform(compact - 1, current + 1));
          w.req = c;
        }
      }
      std::vector<ApplyCommand> cmds;
      uint64_t index = h.store().applied_index();
      for (const Write& w : writes) {
        ApplyCommand cmd;
        cmd.raft_index = ++index;
        std::visit([&cmd](const auto& r) { cmd.request = &r; }, w.req);
        cmds.push_back(cmd);
      }
      auto results = h.store().Apply(cmds);
      ASSERT_TRUE(results.ok()) << results.status();
      for (size_t i = 0; i < writes.size(); ++i) {
        const auto& got = (*results)[i];
        std::string diff = std::visit(
            [&](const auto& r) -> std::string {
              using T = std::decay_t<decltype(r)>;
              if constexpr (std::is_same_v<T, etcdserverpb::PutRequest>) {
                return Compare2(model.Put(r), got);
              } else if constexpr (std::is_same_v<
                                       T, etcdserverpb::DeleteRangeRequest>) {
                return Compare2(model.DeleteRange(r), got);
              } else if constexpr (std::is_same_v<T,
                                                  etcdserverpb::TxnRequest>) {
                return Compare2(model.Txn(r), got);
              } else {
                return Compare2(model.Compact(r), got);
              }
            },
            writes[i].req);
        if (!diff.empty()) return fail(step, writes[i].Describe(), diff);
      }
      // Finish physical compaction in small bounded steps.
      bool compacted = false;
      for (int guard = 0; guard < 10000 && !compacted; ++guard) {
        auto done = h.store().CompactStep(gen.Uniform(1, 8));
        ASSERT_TRUE(done.ok()) << done.status();
        compacted = *done;
      }
      ASSERT_TRUE(compacted) << "CompactStep makes no progress, seed=" << seed;
      if (h.store().revision() != model.revision() ||
          h.store().compact_revision() != model.compact_revision() ||
          h.store().applied_index() != index) {
        return fail(step, "revisions after batch",
                    "model rev=" + std::to_string(model.revision()) +
                        " store rev=" + std::to_string(h.store().revision()));
      }
      continue;
    }
    if (dice < 90) {
      RangeRequest req = gen.Read(current, compact);
      auto want = model.Range(req);
      auto got = h.store().Range(req);
      absl::StatusOr<ApplyResponse> wrapped =
          got.ok() ? absl::StatusOr<ApplyResponse>(ApplyResponse())
                   : absl::StatusOr<ApplyResponse>(got.status());
      if (want.ok() && got.ok()) {
        if (!MessageDifferencer::Equals(*want, *got)) {
          return fail(step, "Range " + req.ShortDebugString(),
                      "model: " + want->ShortDebugString() +
                          "\nstore: " + got->ShortDebugString());
        }
      } else if (want.status() != got.status()) {
        return fail(step, "Range " + req.ShortDebugString(),
                    "model: " + want.status().ToString() +
                        "\nstore: " + got.status().ToString());
      }
      continue;
    }
    // ReadChanges, in pages.
    int64_t from = gen.Uniform(compact - 1, current + 1);
    bool prev = gen.OneIn(2);
    auto want = model.Changes(from, current, prev);
    std::vector<mvccpb::Event> got;
    absl::Status status;
    for (int64_t next = from; next <= current;) {
      auto page = h.store().ReadChanges(next, current, gen.Uniform(1, 5), prev);
      if (!page.ok()) {
        status = page.status();
        break;
      }
      if (page->next_revision <= next && next > 1) {
        return fail(step, "ReadChanges", "no progress");
      }
      got.insert(got.end(), page->events.begin(), page->events.end());
      next = std::max(page->next_revision, next + 1);
    }
    std::string op = "ReadChanges from=" + std::to_string(from) +
                     " prev_kv=" + std::to_string(prev);
    if (want.ok() != status.ok() || (!want.ok() && want.status() != status)) {
      return fail(step, op, "status differs: " + status.ToString());
    }
    if (!want.ok()) continue;
    if (want->size() != got.size()) {
      return fail(step, op,
                  "model events=" + std::to_string(want->size()) +
                      " store events=" + std::to_string(got.size()));
    }
    for (size_t i = 0; i < got.size(); ++i) {
      if (!MessageDifferencer::Equals((*want)[i], got[i])) {
        return fail(step, op,
                    "event " + std::to_string(i) +
                        "\nmodel: " + (*want)[i].ShortDebugString() +
                        "\nstore: " + got[i].ShortDebugString());
      }
    }
  }
}

TEST(MvccModelTest, RandomOperationsMatchModel) {
  const int ops = EnvInt("KV_MODEL_OPS", 3000);
  if (const char* one = std::getenv("KV_MODEL_SEED")) {
    RunSeed(static_cast<uint32_t>(std::atoi(one)), ops);
    return;
  }
  const int seeds = EnvInt("KV_MODEL_SEEDS", 8);
  for (int seed = 1; seed <= seeds && !HasFailure(); ++seed) {
    RunSeed(static_cast<uint32_t>(seed), ops);
  }
}

// The writer's meta cache off, and so small that it starts over every few
// keys: the store must not depend on it being complete.
TEST(MvccModelTest, MetaCacheOffOrTinyMatchesModel) {
  for (size_t entries : {size_t{0}, size_t{1}, size_t{3}}) {
    for (uint32_t seed = 101; seed <= 103 && !HasFailure(); ++seed) {
      RunSeed(seed, 1500, entries);
    }
  }
}

}  // namespace
}  // namespace raftkv::kv::testing
