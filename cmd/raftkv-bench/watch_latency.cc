// watch-latency; see watch_latency.h.
#include "cmd/raftkv-bench/watch_latency.h"

#include <atomic>
#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cmd/raftkv-bench/workloads.h"
#include "grpcpp/client_context.h"

namespace raftkv::bench {
namespace {

constexpr char kKeyPrefix[] = "watch-latency-";

// Send times of the puts, by sequence number (nanoseconds since the epoch;
// 0 until sent). Written by the put client before it sends, read by the
// watch streams when the event arrives.
class SendTimes {
 public:
  explicit SendTimes(int64_t capacity) : times_(capacity) {}
  int64_t capacity() const { return static_cast<int64_t>(times_.size()); }
  void Set(int64_t seq, absl::Time t) {
    if (seq < capacity()) times_[seq].store(absl::ToUnixNanos(t));
  }
  // 0 when unknown.
  int64_t Get(int64_t seq) const {
    return seq >= 0 && seq < capacity() ? times_[seq].load() : 0;
  }

 private:
  std::vector<std::atomic<int64_t>> times_;
};

// Puts to the watched key; the value starts with the decimal seq followed by
// ':' and is padded to val_size.
class WatchedPuts : public Workload {
 public:
  WatchedPuts(std::string key, int val_size, SendTimes* times)
      : key_(std::move(key)), val_size_(val_size), times_(times) {}
  std::vector<std::string> kinds() const override { return {"put"}; }
  void Start(int, int64_t seq, etcdserverpb::KV::Stub* kv, Done done) override {
    struct PutCall {
      grpc::ClientContext context;
      etcdserverpb::PutRequest request;
      etcdserverpb::PutResponse response;
    };
    auto* call = new PutCall;
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(30));
    std::string value = absl::StrCat(seq, ":");
    if (static_cast<int>(value.size()) < val_size_)
      value.resize(val_size_, 'v');
    call->request.set_key(key_);
    call->request.set_value(std::move(value));
    times_->Set(seq, absl::Now());
    kv->async()->Put(&call->context, &call->request, &call->response,
                     Finisher(call, done, 0));
  }

 private:
  const std::string key_;
  const int val_size_;
  SendTimes* const times_;
};

// One Watch stream carrying `watchers` watchers of `key`.
//
// Thread safety: gRPC serializes OnReadDone calls, and OnWriteDone calls,
// of one reactor; samples_ is only touched by reads until OnDone, after
// which the owner reads it (done_ under mu_ publishes it).
class WatchStream
    : public grpc::ClientBidiReactor<etcdserverpb::WatchRequest,
                                     etcdserverpb::WatchResponse> {
 public:
  WatchStream(etcdserverpb::Watch::Stub* stub, std::string key, int watchers,
              const SendTimes* times)
      : times_(times) {
    for (int i = 0; i < watchers; ++i) {
      etcdserverpb::WatchRequest req;
      req.mutable_create_request()->set_key(key);
      creates_.push_back(std::move(req));
    }
    stub->async()->Watch(&context_, this);
    StartRead(&response_);
    if (!creates_.empty()) StartWrite(&creates_.front());
    StartCall();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return;
    creates_.pop_front();
    if (!creates_.empty()) StartWrite(&creates_.front());
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    const absl::Time now = absl::Now();
    if (response_.created()) created_.fetch_add(1);
    for (const auto& event : response_.events()) {
      const std::string& value = event.kv().value();
      int64_t seq = -1;
      if (!absl::SimpleAtoi(value.substr(0, value.find(':')), &seq)) continue;
      const int64_t sent = times_->Get(seq);
      if (sent == 0) continue;
      samples_.push_back(now - absl::FromUnixNanos(sent));
      received_.fetch_add(1);
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

  void Cancel() { context_.TryCancel(); }
  // Blocks until OnDone; returns the latencies and the stream's status.
  grpc::Status Wait(std::vector<absl::Duration>* samples) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
    samples->insert(samples->end(), samples_.begin(), samples_.end());
    return status_;
  }
  int created() const { return created_.load(); }
  bool ended() {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  int64_t received() const { return received_.load(); }

 private:
  const SendTimes* const times_;
  grpc::ClientContext context_;
  std::deque<etcdserverpb::WatchRequest> creates_;
  etcdserverpb::WatchResponse response_;
  std::vector<absl::Duration> samples_;
  std::atomic<int> created_{0};
  std::atomic<int64_t> received_{0};
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

WatchLatencyResult RunWatchLatency(const WatchLatencyOptions& options) {
  WatchLatencyResult result;
  const std::string key = absl::StrCat(
      kKeyPrefix, KeyName(absl::ToUnixMicros(absl::Now()), options.key_size));
  // Enough slots for --total, or for --duration at --put-rate (with slack).
  int64_t capacity = options.puts.total;
  if (capacity == 0) {
    capacity =
        static_cast<int64_t>(absl::ToDoubleSeconds(options.puts.duration) *
                                 std::max(options.puts.rate, 1.0) * 2 +
                             1000);
  }
  SendTimes times(capacity);

  auto channels = MakeChannels(options.puts.endpoints, options.puts.conns);
  std::vector<std::unique_ptr<etcdserverpb::Watch::Stub>> stubs;
  for (auto& ch : channels) stubs.push_back(etcdserverpb::Watch::NewStub(ch));
  const int streams = std::max(1, std::min(options.streams, options.watchers));
  std::vector<std::unique_ptr<WatchStream>> watch_streams;
  for (int s = 0; s < streams; ++s) {
    const int n =
        options.watchers / streams + (s < options.watchers % streams ? 1 : 0);
    watch_streams.push_back(std::make_unique<WatchStream>(
        stubs[s % stubs.size()].get(), key, n, &times));
  }
  // Wait (bounded) until every watcher is created, so no put precedes it.
  const absl::Time created_deadline = absl::Now() + absl::Seconds(10);
  auto all_created = [&] {
    int created = 0;
    for (auto& ws : watch_streams) created += ws->created();
    return created >= options.watchers;
  };
  auto any_ended = [&] {
    for (auto& ws : watch_streams) {
      if (ws->ended()) return true;
    }
    return false;
  };
  while (!all_created() && !any_ended() && absl::Now() < created_deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (!all_created()) {
    // E.g. UNIMPLEMENTED from a server without the Watch service: report
    // the stream's error and skip the puts.
    for (auto& ws : watch_streams) ws->Cancel();
    std::vector<absl::Duration> none;
    for (auto& ws : watch_streams) {
      grpc::Status st = ws->Wait(&none);
      if (!st.ok() && st.error_code() != grpc::StatusCode::CANCELLED &&
          result.first_error.empty()) {
        result.first_error = absl::StrCat("watch stream: ", st.error_code(),
                                          " ", st.error_message());
      }
    }
    if (result.first_error.empty()) {
      result.first_error = "watchers not created in 10s";
    }
    result.events =
        Summarize("watch-latency", {}, options.watchers, absl::ZeroDuration());
    return result;
  }

  WatchedPuts puts(key, options.val_size, &times);
  LoadOptions put_options = options.puts;
  put_options.clients = 1;
  LoadResult put_result = RunLoad(put_options, puts, "watch-latency puts");
  result.puts = put_result.total;
  result.puts.name = "put";
  if (result.first_error.empty()) result.first_error = put_result.first_error;

  // Wait (bounded) for the events of every acknowledged put.
  const int64_t expected = put_result.total.requests * options.watchers;
  auto received = [&] {
    int64_t n = 0;
    for (auto& ws : watch_streams) n += ws->received();
    return n;
  };
  const absl::Time drain_deadline = absl::Now() + options.drain;
  while (received() < expected && absl::Now() < drain_deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  std::vector<absl::Duration> samples;
  for (auto& ws : watch_streams) ws->Cancel();
  for (auto& ws : watch_streams) {
    grpc::Status st = ws->Wait(&samples);
    if (!st.ok() && st.error_code() != grpc::StatusCode::CANCELLED &&
        result.first_error.empty()) {
      result.first_error = absl::StrCat("watch stream: ", st.error_code(), " ",
                                        st.error_message());
    }
  }
  const int64_t missing =
      std::max<int64_t>(0, expected - static_cast<int64_t>(samples.size()));
  result.events = Summarize("watch-latency", std::move(samples), missing,
                            put_result.total.elapsed);
  return result;
}

}  // namespace raftkv::bench
