// Watch helpers for the e2e tests; see watch_util.h.
#include "tests/e2e/watch_util.h"

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace raftkv::e2e {

std::shared_ptr<grpc::Channel> WatchChannel(const std::string& endpoint,
                                            bool fixed_window) {
  grpc::ChannelArguments args;
  // A channel of its own: no subchannel shared with another channel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, -1);
  if (fixed_window) args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(),
                                   args);
}

SyncWatch::SyncWatch(
    const std::shared_ptr<grpc::Channel>& channel,
    const std::vector<std::pair<std::string, std::string>>& metadata,
    absl::Duration timeout)
    : stub_(etcdserverpb::Watch::NewStub(channel)) {
  for (const auto& [k, v] : metadata) context_.AddMetadata(k, v);
  if (timeout != absl::InfiniteDuration()) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  stream_ = stub_->Watch(&context_);
}

SyncWatch::~SyncWatch() { Finish(); }

bool SyncWatch::Create(const etcdserverpb::WatchCreateRequest& create) {
  etcdserverpb::WatchRequest r;
  *r.mutable_create_request() = create;
  return stream_->Write(r);
}

bool SyncWatch::RequestProgress() {
  etcdserverpb::WatchRequest r;
  r.mutable_progress_request();
  return stream_->Write(r);
}

bool SyncWatch::Read(etcdserverpb::WatchResponse* response) {
  return stream_->Read(response);
}

grpc::Status SyncWatch::Finish(bool cancel) {
  if (finished_) return grpc::Status::OK;
  finished_ = true;
  if (cancel) context_.TryCancel();
  etcdserverpb::WatchResponse drain;
  while (stream_->Read(&drain)) {
  }
  return stream_->Finish();
}

etcdserverpb::WatchCreateRequest CreateRequest(const std::string& key,
                                               const std::string& range_end,
                                               int64_t start_revision,
                                               bool prev_kv) {
  etcdserverpb::WatchCreateRequest c;
  c.set_key(key);
  c.set_range_end(range_end);
  c.set_start_revision(start_revision);
  c.set_prev_kv(prev_kv);
  return c;
}

bool InRange(const std::string& key, const std::string& range_end,
             const std::string& k) {
  if (range_end.empty()) return k == key;
  if (range_end == std::string(1, '\0')) return k >= key;
  return k >= key && k < range_end;
}

absl::StatusOr<std::vector<std::vector<mvccpb::Event>>> ReadHistory(
    const std::string& endpoint, const std::string& key,
    const std::string& range_end, int64_t until, absl::Duration timeout) {
  SyncWatch w(WatchChannel(endpoint), {}, timeout);
  if (!w.Create(CreateRequest(key, range_end, 1, /*prev_kv=*/true))) {
    return absl::UnavailableError("history watch: create not sent");
  }
  std::vector<std::vector<mvccpb::Event>> out;
  etcdserverpb::WatchResponse r;
  int64_t last = 0;
  while (last < until) {
    if (!w.Read(&r)) {
      grpc::Status s = w.Finish();
      return absl::UnavailableError(
          absl::StrCat("history watch ended at revision ", last, ": ",
                       s.error_code(), " ", s.error_message()));
    }
    if (r.canceled()) {
      return absl::InternalError(absl::StrCat(
          "history watch cancelled: compact_revision=", r.compact_revision(),
          " ", r.cancel_reason()));
    }
    if (r.events_size() == 0) continue;
    out.emplace_back(r.events().begin(), r.events().end());
    last = r.events(r.events_size() - 1).kv().mod_revision();
  }
  return out;
}

HistoryCheck CheckHistory(const std::vector<mvccpb::Event>& history,
                          int64_t first, int64_t last) {
  HistoryCheck out;
  auto violation = [&out](std::string v) {
    if (out.violations.size() < 20) out.violations.push_back(std::move(v));
  };
  int64_t expected = first;
  for (const mvccpb::Event& e : history) {
    const mvccpb::KeyValue& kv = e.kv();
    const int64_t rev = kv.mod_revision();
    if (rev == expected) {
      ++expected;
    } else if (rev != expected - 1) {
      violation(absl::StrCat("history: revision ", rev, " follows ",
                             expected - 1, " (missing or out of order)"));
      expected = rev + 1;
    }
    auto it = out.model.find(kv.key());
    const bool had = it != out.model.end();
    if (had &&
        e.prev_kv().SerializeAsString() != it->second.SerializeAsString()) {
      violation(absl::StrCat("prev_kv: ", kv.key(), "@", rev,
                             " prev_kv mod_revision ",
                             e.prev_kv().mod_revision(), ", model has ",
                             it->second.mod_revision()));
    }
    if (!had && e.has_prev_kv()) {
      violation(absl::StrCat("prev_kv: ", kv.key(), "@", rev,
                             " is new but has a prev_kv"));
    }
    if (e.type() == mvccpb::Event::PUT) {
      const int64_t version = had ? it->second.version() + 1 : 1;
      const int64_t create = had ? it->second.create_revision() : rev;
      if (kv.version() != version || kv.create_revision() != create) {
        violation(absl::StrCat("is_create: ", kv.key(), "@", rev, " version ",
                               kv.version(), " create_revision ",
                               kv.create_revision(), ", expected ", version,
                               " and ", create));
      }
      out.model[kv.key()] = kv;
    } else {
      if (!had) {
        violation(
            absl::StrCat("history: DELETE of absent key ", kv.key(), "@", rev));
      }
      out.model.erase(kv.key());
    }
  }
  if (expected != last + 1) {
    violation(absl::StrCat("history ends at revision ", expected - 1,
                           ", expected ", last));
  }
  return out;
}

pid_t MemberPid(const ProcessCluster& cluster, int i) {
  const std::string needle =
      "--listen-client-urls=http://" + cluster.client_endpoint(i);
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return -1;
  pid_t found = -1;
  while (dirent* d = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(d->d_name, &pid)) continue;
    std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
    std::stringstream ss;
    ss << in.rdbuf();
    for (absl::string_view arg : absl::StrSplit(ss.str(), '\0')) {
      // raftkv rewrites its flags' dashes to underscores in place.
      std::string normal(arg);
      std::replace(normal.begin(), normal.end(), '_', '-');
      if (normal == needle) found = pid;
    }
    if (found > 0) break;
  }
  closedir(proc);
  return found;
}

Memory ReadMemory(pid_t pid) {
  Memory m;
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() < 2) continue;
    int64_t v = 0;
    if (!absl::SimpleAtoi(f[1], &v)) continue;
    if (f[0] == "VmRSS:") m.rss_kib = v;
    if (f[0] == "VmHWM:") m.hwm_kib = v;
  }
  return m;
}

}  // namespace raftkv::e2e
