// KV workloads; see workloads.h.
#include "cmd/raftkv-bench/workloads.h"

#include <random>
#include <vector>

#include "absl/strings/str_format.h"
#include "grpcpp/client_context.h"

namespace raftkv::bench {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(30);

// One RPC in flight: context, request and response live until its callback.
template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
};

template <typename Request, typename Response>
Call<Request, Response>* NewCall() {
  auto* call = new Call<Request, Response>;
  call->context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  return call;
}

// Keys and values for the writing workloads. Values are slices of a random
// pool, so they differ between requests and do not compress (LevelDB's
// snappy would otherwise shrink a constant value to nothing and flatter
// raftkv's disk and memory use).
//
// Thread safety: Key/Value for client c are called only from c's steps.
class Generator {
 public:
  Generator(const KeyOptions& options, int clients) : options_(options) {
    std::mt19937_64 seed(42);
    for (int i = 0; i < clients; ++i) rngs_.emplace_back(seed());
    static constexpr char kAlphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    pool_.resize(1 << 20);
    for (char& ch : pool_) ch = kAlphabet[seed() % 64];
  }

  int64_t KeyNumber(int client, int64_t seq) {
    const int64_t space = std::max<int64_t>(1, options_.key_space_size);
    if (options_.sequential_keys) return seq % space;
    return static_cast<int64_t>(rngs_[client]() % space);
  }
  std::string Key(int client, int64_t seq) {
    return KeyName(KeyNumber(client, seq), options_.key_size);
  }
  std::string Value(int client) {
    const size_t size = std::min<size_t>(options_.val_size, pool_.size());
    return pool_.substr(rngs_[client]() % (pool_.size() - size + 1), size);
  }
  std::mt19937_64& rng(int client) { return rngs_[client]; }

 private:
  const KeyOptions options_;
  std::vector<std::mt19937_64> rngs_;
  std::string pool_;
};

class PutWorkload : public Workload {
 public:
  PutWorkload(const KeyOptions& keys, int clients) : gen_(keys, clients) {}
  std::vector<std::string> kinds() const override { return {"put"}; }
  void Start(int client, int64_t seq, etcdserverpb::KV::Stub* kv,
             Done done) override {
    auto* call = NewCall<etcdserverpb::PutRequest, etcdserverpb::PutResponse>();
    call->request.set_key(gen_.Key(client, seq));
    call->request.set_value(gen_.Value(client));
    kv->async()->Put(&call->context, &call->request, &call->response,
                     Finisher(call, done, 0));
  }

 private:
  Generator gen_;
};

class RangeWorkload : public Workload {
 public:
  RangeWorkload(std::string key, std::string range_end, bool serializable)
      : key_(std::move(key)),
        range_end_(std::move(range_end)),
        serializable_(serializable) {}
  std::vector<std::string> kinds() const override { return {"range"}; }
  void Start(int, int64_t, etcdserverpb::KV::Stub* kv, Done done) override {
    auto* call =
        NewCall<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse>();
    call->request.set_key(key_);
    call->request.set_range_end(range_end_);
    call->request.set_serializable(serializable_);
    kv->async()->Range(&call->context, &call->request, &call->response,
                       Finisher(call, done, 0));
  }

 private:
  const std::string key_;
  const std::string range_end_;
  const bool serializable_;
};

class TxnPutWorkload : public Workload {
 public:
  TxnPutWorkload(const KeyOptions& keys, int ops, int clients)
      : keys_(keys), ops_(ops), gen_(keys, clients) {}
  std::vector<std::string> kinds() const override { return {"txn-put"}; }
  void Start(int client, int64_t seq, etcdserverpb::KV::Stub* kv,
             Done done) override {
    auto* call = NewCall<etcdserverpb::TxnRequest, etcdserverpb::TxnResponse>();
    // Distinct keys: a txn may not put one key twice.
    const int64_t space = std::max<int64_t>(1, keys_.key_space_size);
    const int64_t first = gen_.KeyNumber(client, seq * ops_);
    for (int i = 0; i < ops_ && i < space; ++i) {
      auto* put = call->request.add_success()->mutable_request_put();
      put->set_key(KeyName((first + i) % space, keys_.key_size));
      put->set_value(gen_.Value(client));
    }
    kv->async()->Txn(&call->context, &call->request, &call->response,
                     Finisher(call, done, 0));
  }

 private:
  const KeyOptions keys_;
  const int ops_;
  Generator gen_;
};

class MixedWorkload : public Workload {
 public:
  MixedWorkload(const KeyOptions& keys, double read_ratio, bool serializable,
                int clients)
      : read_ratio_(read_ratio),
        serializable_(serializable),
        gen_(keys, clients) {}
  std::vector<std::string> kinds() const override { return {"range", "put"}; }
  void Start(int client, int64_t seq, etcdserverpb::KV::Stub* kv,
             Done done) override {
    std::uniform_real_distribution<double> coin(0, 1);
    if (coin(gen_.rng(client)) < read_ratio_) {
      auto* call =
          NewCall<etcdserverpb::RangeRequest, etcdserverpb::RangeResponse>();
      call->request.set_key(gen_.Key(client, seq));
      call->request.set_serializable(serializable_);
      kv->async()->Range(&call->context, &call->request, &call->response,
                         Finisher(call, done, 0));
      return;
    }
    auto* call = NewCall<etcdserverpb::PutRequest, etcdserverpb::PutResponse>();
    call->request.set_key(gen_.Key(client, seq));
    call->request.set_value(gen_.Value(client));
    kv->async()->Put(&call->context, &call->request, &call->response,
                     Finisher(call, done, 1));
  }

 private:
  const double read_ratio_;
  const bool serializable_;
  Generator gen_;
};

}  // namespace

std::string KeyName(int64_t n, int key_size) {
  return absl::StrFormat("%0*d", key_size, n);
}

std::unique_ptr<Workload> NewPutWorkload(const KeyOptions& keys, int clients) {
  return std::make_unique<PutWorkload>(keys, clients);
}

std::unique_ptr<Workload> NewRangeWorkload(std::string key,
                                           std::string range_end,
                                           bool serializable) {
  return std::make_unique<RangeWorkload>(std::move(key), std::move(range_end),
                                         serializable);
}

std::unique_ptr<Workload> NewTxnPutWorkload(const KeyOptions& keys, int ops,
                                            int clients) {
  return std::make_unique<TxnPutWorkload>(keys, ops, clients);
}

std::unique_ptr<Workload> NewMixedWorkload(const KeyOptions& keys,
                                           double read_ratio, bool serializable,
                                           int clients) {
  return std::make_unique<MixedWorkload>(keys, read_ratio, serializable,
                                         clients);
}

}  // namespace raftkv::bench
