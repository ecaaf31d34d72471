// WriteLoad; see load.h.
#include "tests/e2e/load.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace raftkv::e2e {

WriteLoad::WriteLoad(std::vector<std::string> endpoints, int writers,
                     std::string prefix)
    : endpoints_(std::move(endpoints)),
      writers_(writers),
      prefix_(std::move(prefix)) {}

WriteLoad::~WriteLoad() { Stop(); }

void WriteLoad::Start() {
  for (int w = 0; w < writers_; ++w) {
    threads_.emplace_back([this, w] { Writer(w); });
  }
}

void WriteLoad::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void WriteLoad::Writer(int w) {
  client::Options options;
  // Per call, the time to wait for one endpoint to connect before moving
  // on to the next one.
  options.dial_timeout = absl::Seconds(1);
  options.call_timeout = absl::Seconds(3);
  options.retry_backoff = absl::Milliseconds(20);
  auto c = client::Client::Connect(endpoints_, options);
  if (!c.ok()) {
    absl::MutexLock l(&mu_);
    ++failures_[c.status().ToString()];
    return;
  }
  for (int64_t seq = 0; !stop_; ++seq) {
    AckedWrite write;
    write.key = absl::StrCat(prefix_, "/w", w, "/", seq);
    write.value = absl::StrCat("value-", w, "-", seq);
    write.sent = absl::Now();
    auto r = (*c)->Put(write.key, write.value);
    if (r.ok()) {
      write.revision = r->header().revision();
      write.acked = absl::Now();
      absl::MutexLock l(&mu_);
      acked_.push_back(std::move(write));
    } else {
      {
        absl::MutexLock l(&mu_);
        ++failures_[absl::StrCat(absl::StatusCodeToString(r.status().code()),
                                 ": ", r.status().message())];
      }
      // Not a synchronisation wait: keeps a writer from spinning while no
      // endpoint accepts writes.
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
}

std::vector<AckedWrite> WriteLoad::acked() const {
  absl::MutexLock l(&mu_);
  return acked_;
}

int64_t WriteLoad::acked_count() const {
  absl::MutexLock l(&mu_);
  return static_cast<int64_t>(acked_.size());
}

int64_t WriteLoad::acked_sent_after(absl::Time t) const {
  absl::MutexLock l(&mu_);
  int64_t n = 0;
  for (const AckedWrite& a : acked_) n += a.sent >= t;
  return n;
}

absl::Time WriteLoad::first_ack_sent_after(absl::Time t) const {
  absl::MutexLock l(&mu_);
  absl::Time first = absl::InfiniteFuture();
  for (const AckedWrite& a : acked_) {
    if (a.sent >= t) first = std::min(first, a.acked);
  }
  return first;
}

int64_t WriteLoad::failures() const {
  absl::MutexLock l(&mu_);
  int64_t n = 0;
  for (const auto& [kind, count] : failures_) n += count;
  return n;
}

std::map<std::string, int> WriteLoad::failure_kinds() const {
  absl::MutexLock l(&mu_);
  return failures_;
}

}  // namespace raftkv::e2e
