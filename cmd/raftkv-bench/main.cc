// raftkv-bench: a load generator for any etcd-v3 endpoint (raftkv or etcd
// itself), modelled on etcd's tools/benchmark. See docs/benchmark.md.
//
//   raftkv-bench put      [--key-size N] [--val-size N] [--sequential-keys]
//                         [--key-space-size N]
//   raftkv-bench range    KEY [END] [--consistency l|s] [--prefix]
//   raftkv-bench txn-put  [--txn-ops N] [key/value flags as for put]
//   raftkv-bench watch-latency [--watchers W] [--streams S] [--put-rate R]
//   raftkv-bench mixed    [--read-ratio F] [--consistency l|s] [key flags]
//   raftkv-bench probe    [--min-revision R] [--timeout D] (first endpoint)
// Common: --endpoints, --clients, --conns, --total or --duration, --rate,
// --json, --progress; TLS as etcdctl: https:// endpoints, --cacert, --cert,
// --key, --insecure-skip-tls-verify, --insecure-transport. Flags take etcd's
// dashed spelling or absl's underscores.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cmd/raftkv-bench/load.h"
#include "cmd/raftkv-bench/report.h"
#include "cmd/raftkv-bench/watch_latency.h"
#include "cmd/raftkv-bench/workloads.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "rpc/client/endpoint.h"
#include "rpc/client/keys.h"
#include "rpc/client/tls.h"

ABSL_FLAG(std::string, endpoints, "127.0.0.1:2379",
          "Comma-separated gRPC endpoints (host:port, http://host:port or "
          "https://host:port).");
ABSL_FLAG(std::string, cacert, "",
          "TLS: verify server certificates with this CA bundle (PEM).");
ABSL_FLAG(std::string, cert, "", "TLS: client certificate (PEM).");
ABSL_FLAG(std::string, key, "", "TLS: client private key (PEM).");
ABSL_FLAG(bool, insecure_skip_tls_verify, false,
          "TLS: accept any server certificate (testing only).");
ABSL_FLAG(bool, insecure_transport, true,
          "Plaintext for host:port endpoints unless --cacert, --cert or --key "
          "is given (as etcdctl); false: TLS for them too.");
ABSL_FLAG(int, clients, 1, "Concurrent clients (requests in flight).");
ABSL_FLAG(int, conns, 1, "gRPC connections shared by the clients.");
ABSL_FLAG(int64_t, total, 0, "Total requests; 0 runs for --duration.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "Run length when --total is 0.");
ABSL_FLAG(double, rate, 0,
          "Open loop: requests per second over all clients (0: closed loop).");
ABSL_FLAG(bool, json, false, "Print one JSON object instead of text.");
ABSL_FLAG(bool, progress, true, "Print a progress line per second to stderr.");
ABSL_FLAG(int, key_size, 8, "Key size in bytes.");
ABSL_FLAG(int, val_size, 8, "Value size in bytes.");
ABSL_FLAG(bool, sequential_keys, false, "Use keys 0, 1, 2, ... in order.");
ABSL_FLAG(int64_t, key_space_size, 1, "Number of distinct keys.");
ABSL_FLAG(std::string, consistency, "l",
          "Reads: l (linearizable) or s (serializable).");
ABSL_FLAG(bool, prefix, false, "range: read every key with prefix KEY.");
ABSL_FLAG(int, txn_ops, 1, "txn-put: puts per transaction.");
ABSL_FLAG(double, read_ratio, 0.5, "mixed: fraction of requests that read.");
ABSL_FLAG(int, watchers, 100, "watch-latency: watchers of the key.");
ABSL_FLAG(int, streams, 10, "watch-latency: Watch streams they share.");
ABSL_FLAG(double, put_rate, 100, "watch-latency: puts per second.");
ABSL_FLAG(int64_t, min_revision, 0,
          "probe: wait until a serializable read sees this revision.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(60), "probe: give up after.");

namespace raftkv::bench {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "raftkv-bench: %s\n", message.c_str());
  return 2;
}

void Print(const std::string& workload, const Summary& total,
           const std::vector<Summary>& by_op, const std::string& error) {
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", FormatJson(workload, total, by_op).c_str());
  } else {
    std::printf("%s", FormatText(total).c_str());
    for (const Summary& s : by_op) std::printf("\n%s", FormatText(s).c_str());
  }
  if (!error.empty()) {
    std::fprintf(stderr, "raftkv-bench: first error: %s\n", error.c_str());
  }
}

// Exit status: 0 when at least one request succeeded, 1 otherwise.
int Finish(const std::string& workload, const LoadResult& r) {
  Print(workload, r.total, r.by_kind, r.first_error);
  return r.total.requests > 0 ? 0 : 1;
}

KeyOptions KeyFlags() {
  KeyOptions k;
  k.key_size = absl::GetFlag(FLAGS_key_size);
  k.val_size = absl::GetFlag(FLAGS_val_size);
  k.key_space_size = absl::GetFlag(FLAGS_key_space_size);
  k.sequential_keys = absl::GetFlag(FLAGS_sequential_keys);
  return k;
}

// Polls serializable reads until one sees --min-revision; prints the wait.
// The channel reconnects every few milliseconds (gRPC's default backoff
// starts at 1 s), so the figure measures the server, not the backoff.
int Probe(const std::vector<Target>& endpoints) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::GetFlag(FLAGS_timeout);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 5);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto kv = etcdserverpb::KV::NewStub(grpc::CreateCustomChannel(
      endpoints[0].address, endpoints[0].credentials, args));
  etcdserverpb::RangeRequest req;
  req.set_key("raftkv-bench-probe");
  req.set_serializable(true);
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
    context.set_wait_for_ready(true);
    etcdserverpb::RangeResponse resp;
    const grpc::Status status = kv->Range(&context, req, &resp);
    if (status.ok() &&
        resp.header().revision() >= absl::GetFlag(FLAGS_min_revision)) {
      std::printf("serving after %.3f s (revision %lld)\n",
                  absl::ToDoubleSeconds(absl::Now() - start),
                  static_cast<long long>(resp.header().revision()));
      return 0;
    }
    if (status.ok()) absl::SleepFor(absl::Milliseconds(5));
  }
  return Fail("probe: not serving before --timeout");
}

// --endpoints with the credentials --cacert, --cert, --key,
// --insecure-skip-tls-verify and --insecure-transport give each of them.
absl::StatusOr<std::vector<Target>> Targets() {
  auto urls = client::ParseEndpointUrls(absl::GetFlag(FLAGS_endpoints));
  if (!urls.ok()) return urls.status();
  client::ClientTlsOptions tls;
  tls.ca_file = absl::GetFlag(FLAGS_cacert);
  tls.cert_file = absl::GetFlag(FLAGS_cert);
  tls.key_file = absl::GetFlag(FLAGS_key);
  tls.insecure_skip_verify = absl::GetFlag(FLAGS_insecure_skip_tls_verify);
  tls.insecure_transport = absl::GetFlag(FLAGS_insecure_transport);
  std::vector<Target> out;
  for (client::EndpointUrl& url : *urls) {
    auto credentials = client::ChannelCredentialsFor(tls, url.scheme);
    if (!credentials.ok()) return credentials.status();
    out.push_back({std::move(url.target), *std::move(credentials)});
  }
  return out;
}

int Run(const std::vector<std::string>& args) {
  if (args.empty()) return Fail("missing command; see --help");
  const std::string& cmd = args[0];
  auto endpoints = Targets();
  if (!endpoints.ok()) return Fail(std::string(endpoints.status().message()));
  LoadOptions load;
  load.endpoints = *endpoints;
  load.clients = std::max(1, absl::GetFlag(FLAGS_clients));
  load.conns = std::max(1, absl::GetFlag(FLAGS_conns));
  load.total = absl::GetFlag(FLAGS_total);
  load.duration = absl::GetFlag(FLAGS_duration);
  load.rate = absl::GetFlag(FLAGS_rate);
  load.progress = absl::GetFlag(FLAGS_progress);
  const std::string consistency = absl::GetFlag(FLAGS_consistency);
  if (consistency != "l" && consistency != "s") {
    return Fail("--consistency must be l or s");
  }
  const bool serializable = consistency == "s";

  if (cmd == "put") {
    auto w = NewPutWorkload(KeyFlags(), load.clients);
    return Finish(cmd, RunLoad(load, *w, cmd));
  }
  if (cmd == "range") {
    if (args.size() < 2 || args.size() > 3) {
      return Fail("usage: range KEY [END] [--prefix] [--consistency l|s]");
    }
    std::string end = args.size() == 3 ? args[2] : "";
    if (absl::GetFlag(FLAGS_prefix)) end = client::PrefixRangeEnd(args[1]);
    auto w = NewRangeWorkload(args[1], end, serializable);
    return Finish(cmd, RunLoad(load, *w, cmd));
  }
  if (cmd == "txn-put") {
    auto w = NewTxnPutWorkload(
        KeyFlags(), std::max(1, absl::GetFlag(FLAGS_txn_ops)), load.clients);
    return Finish(cmd, RunLoad(load, *w, cmd));
  }
  if (cmd == "mixed") {
    auto w = NewMixedWorkload(KeyFlags(), absl::GetFlag(FLAGS_read_ratio),
                              serializable, load.clients);
    return Finish(cmd, RunLoad(load, *w, cmd));
  }
  if (cmd == "watch-latency") {
    WatchLatencyOptions o;
    o.puts = load;
    o.puts.rate = absl::GetFlag(FLAGS_put_rate);
    if (o.puts.total == 0 && load.duration == absl::Seconds(10)) {
      o.puts.total = 1000;  // etcd's --put-total default
    }
    o.watchers = std::max(1, absl::GetFlag(FLAGS_watchers));
    o.streams = std::max(1, absl::GetFlag(FLAGS_streams));
    o.key_size = absl::GetFlag(FLAGS_key_size);
    o.val_size = absl::GetFlag(FLAGS_val_size);
    WatchLatencyResult r = RunWatchLatency(o);
    Print(cmd, r.events, {r.puts}, r.first_error);
    return r.events.requests > 0 ? 0 : 1;
  }
  if (cmd == "probe") return Probe(*endpoints);
  return Fail("unknown command \"" + cmd + "\"; see --help");
}

}  // namespace
}  // namespace raftkv::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "raftkv-bench put|range|txn-put|watch-latency|mixed|probe [flags]\n"
      "  e.g. raftkv-bench put --endpoints 127.0.0.1:2379 --clients 64 "
      "--conns 8 --val-size 256 --total 100000\n"
      "See docs/benchmark.md.");
  // etcd spells flags with dashes; absl with underscores. Accept both.
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) continue;
    const size_t eq = arg.find('=');
    for (size_t j = 2; j < (eq == std::string::npos ? arg.size() : eq); ++j) {
      if (argv[i][j] == '-') argv[i][j] = '_';
    }
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  const int code = raftkv::bench::Run(args);
  // gRPC's threads may still be unwinding from the last callback; exiting
  // without running static destructors avoids racing them (a crash at exit
  // would turn a finished run into a failure).
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(code);
}
