// watch (etcdctl's watch_command.go): watches a key, a range or a prefix and
// prints each event as etcdctl does ("PUT\nkey\nvalue", prev_kv first when
// asked), "progress notify: <rev>" for progress notifications, and the
// cancel reason on stderr. `-i` reads "watch ..." and "progress" lines from
// stdin, all on one stream. `-w jsonl` prints one JSON object per event, for
// piping changes into other systems. Runs until the server ends the stream
// (exit 5, "watch is canceled by the server", as etcdctl).
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "cmd/raftkvctl/command.h"
#include "cmd/raftkvctl/format.h"
#include "rpc/client/keys.h"

namespace raftkv::ctl {
namespace {

bool watch_prefix = false;
bool watch_prev_kv = false;
bool watch_interactive = false;
int64_t watch_rev = 0;

using Stream = grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                        etcdserverpb::WatchResponse>;

// Builds a create request from "key [range_end]"; false with `error` set
// on bad arguments.
bool BuildCreate(const std::vector<std::string>& args,
                 etcdserverpb::WatchRequest* req, std::string* error) {
  if (args.empty() || args.size() > 2) {
    *error = "bad number of arguments";
    return false;
  }
  auto* c = req->mutable_create_request();
  if (args.size() == 2 && watch_prefix) {
    *error = "`range_end` and `--prefix` are mutually exclusive";
    return false;
  }
  c->set_key(args[0]);
  if (args.size() == 2) c->set_range_end(args[1]);
  if (watch_prefix) {
    client::KeyRange r = client::PrefixRange(args[0]);
    c->set_key(r.key);
    c->set_range_end(r.range_end);
  }
  c->set_start_revision(watch_rev);
  c->set_prev_kv(watch_prev_kv);
  return true;
}

void PrintSimpleKV(const mvccpb::KeyValue& kv) {
  std::cout << kv.key() << "\n" << kv.value() << "\n";
}

std::string JsonlEvent(const etcdserverpb::WatchResponse& r,
                       const mvccpb::Event& e) {
  std::string out = absl::StrCat(
      "{\"watch_id\":", r.watch_id(), ",\"revision\":", r.header().revision(),
      ",\"type\":\"", e.type() == mvccpb::Event::PUT ? "PUT" : "DELETE",
      "\",\"key\":", GoJsonString(e.kv().key()),
      ",\"value\":", GoJsonString(e.kv().value()),
      ",\"create_revision\":", e.kv().create_revision(),
      ",\"mod_revision\":", e.kv().mod_revision(),
      ",\"version\":", e.kv().version(), ",\"lease\":", e.kv().lease());
  if (e.has_prev_kv()) {
    absl::StrAppend(&out, ",\"prev_value\":", GoJsonString(e.prev_kv().value()),
                    ",\"prev_mod_revision\":", e.prev_kv().mod_revision());
  }
  return out + "}";
}

void Print(const std::string& format, const etcdserverpb::WatchResponse& r) {
  if (r.canceled()) {
    std::string reason = r.cancel_reason();
    if (r.compact_revision() != 0) {
      reason = "etcdserver: mvcc: required revision has been compacted";
    }
    std::cerr << "watch was canceled (" << reason << ")\n";
  }
  const bool progress = r.events_size() == 0 && !r.canceled() && !r.created() &&
                        r.compact_revision() == 0 && r.header().revision() != 0;
  if (format == "jsonl") {
    for (const auto& e : r.events()) std::cout << JsonlEvent(r, e) << "\n";
    std::cout.flush();
    return;
  }
  if (format == "json") {
    if (!r.created()) std::cout << GoJson(r) << "\n";
    std::cout.flush();
    return;
  }
  if (progress)
    std::cout << "progress notify: " << r.header().revision() << "\n";
  for (const auto& e : r.events()) {
    std::cout << (e.type() == mvccpb::Event::PUT ? "PUT" : "DELETE") << "\n";
    if (e.has_prev_kv()) PrintSimpleKV(e.prev_kv());
    PrintSimpleKV(e.kv());
  }
  std::cout.flush();
}

// Reads "watch ..." / "progress" lines and sends them on `stream`.
void Interactive(Stream* stream, absl::Mutex* write_mu) {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<std::string> args =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (args.empty()) {
      std::cerr << "Invalid command: " << line
                << " (watch and progress supported)\n";
      continue;
    }
    etcdserverpb::WatchRequest req;
    if (args[0] == "watch") {
      std::vector<std::string> rest;
      for (size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--prefix") {
          watch_prefix = true;
        } else if (args[i] == "--prev-kv") {
          watch_prev_kv = true;
        } else if (absl::StartsWith(args[i], "--rev=")) {
          watch_rev = std::stoll(args[i].substr(6));
        } else {
          rest.push_back(args[i]);
        }
      }
      std::string error;
      if (!BuildCreate(rest, &req, &error)) {
        std::cerr << "Invalid command " << line << " (" << error << ")\n";
        continue;
      }
    } else if (args[0] == "progress") {
      req.mutable_progress_request();
    } else {
      std::cerr << "Invalid command " << line << " (only support watch)\n";
      continue;
    }
    absl::MutexLock l(write_mu);
    stream->Write(req);
  }
  ExitWithError(kExitInvalidInput, "Error reading watch request line: EOF");
}

}  // namespace

void RegisterWatchFlags(FlagSet& flags) {
  flags.Bool("prefix", 0, &watch_prefix);
  flags.Bool("prev-kv", 0, &watch_prev_kv);
  flags.Bool("interactive", 'i', &watch_interactive);
  flags.Int64("rev", 0, &watch_rev);
}

int RunWatch(Context& ctx, const std::vector<std::string>& args) {
  const std::string format = ctx.globals().write_out;
  if (format != "simple" && format != "json" && format != "jsonl") {
    ExitWithError(kExitBadFeature,
                  "watch supports --write-out simple, json and jsonl");
  }
  etcdserverpb::WatchRequest first;
  std::string error;
  if (!watch_interactive && !BuildCreate(args, &first, &error)) {
    ExitWithError(kExitBadArgs, error);
  }
  grpc::ClientContext call;
  call.AddMetadata("hasleader", "true");
  std::unique_ptr<Stream> stream = ctx.client().watch().Watch(&call);
  absl::Mutex write_mu;
  std::thread input;
  if (watch_interactive) {
    input = std::thread([&] { Interactive(stream.get(), &write_mu); });
    input.detach();
  } else {
    absl::MutexLock l(&write_mu);
    stream->Write(first);
  }
  etcdserverpb::WatchResponse r;
  while (stream->Read(&r)) Print(format, r);
  grpc::Status s = stream->Finish();
  if (!s.ok()) ExitWithError(kExitError, s.error_message());
  ExitWithError(kExitInterrupted, "watch is canceled by the server");
}

}  // namespace raftkv::ctl
