// raftkv: a member of a Raft-replicated, etcd-v3-compatible key-value store.
// Takes etcd's flag names; with no flags it runs a one-member cluster on
// 127.0.0.1:2379 (clients) and :2380 (peers) with data in ./default.raftkv.
// Unlike etcd it has no gateway or grpc-proxy subcommands.
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/synchronization/mutex.h"
#include "cmd/raftkv/config.h"
#include "cmd/raftkv/member.h"
#include "rpc/server/api_level.h"

ABSL_DECLARE_FLAG(absl::Duration, experimental_watch_progress_notify_interval);

int main(int argc, char** argv) {
  // SIGINT and SIGTERM are taken synchronously (sigwait below), not by a
  // handler: a handler that locks the member's mutex runs on whatever thread
  // the signal interrupts — often the main thread inside Member::Wait(),
  // which holds that mutex — and absl's deadlock detector then aborts the
  // process ("Acquiring absl::Mutex while holding" it) instead of a clean
  // stop. Blocked here, before any thread starts, so every thread inherits
  // the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // absl's deadlock detection (on in Debian's build) updates a lock graph on
  // every contended Lock: 1-3 % of the leader's CPU in profiles. The
  // in-process tests of the libraries keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // etcd 3.4's command line, ETCD_* variables and --config-file
  // (config.h); absl's flag parser is not used.
  if (argc > 1 && (std::string(argv[1]) == "gateway" ||
                   std::string(argv[1]) == "grpc-proxy")) {
    std::fprintf(stderr,
                 "raftkv: '%s' is not supported: raftkv has no proxy modes\n",
                 argv[1]);
    return 2;
  }
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  auto invocation = raftkv::cmd::ParseInvocation(
      std::vector<std::string>(argv + 1, argv + argc), env);
  if (!invocation.ok()) {
    std::string message(invocation.status().message());
    if (message.rfind("raftkv: ", 0) != 0) message = "raftkv: " + message;
    std::fprintf(stderr, "%s\n", message.c_str());
    return 2;
  }
  using Action = raftkv::cmd::Invocation::Action;
  if (invocation->action == Action::kHelp) {
    std::fputs(raftkv::cmd::HelpText().c_str(), stdout);
    return 0;
  }
  if (invocation->action == Action::kVersion) {
    std::printf("raftkv Version: %s\netcd Version: %s\netcd API Version: %s\n",
                raftkv::rpc::kRaftkvVersion, raftkv::rpc::kEtcdServerVersion,
                raftkv::rpc::kEtcdApiVersion);
    return 0;
  }
  auto config = &invocation->config;
  if (absl::Status s = raftkv::cmd::RedirectLog(*config); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  for (const std::string& line : invocation->log) {
    std::fprintf(stderr, "raftkv: %s\n", line.c_str());
  }
  if (invocation->action == Action::kCheckConfig) {
    std::fputs(raftkv::cmd::DescribeConfig(*config).c_str(), stdout);
    return 0;
  }
  // member.cc still reads this one as an absl flag.
  absl::SetFlag(&FLAGS_experimental_watch_progress_notify_interval,
                config->watch_progress_notify_interval);
  // etcd: a member removed from the cluster shuts down (exit status 0).
  auto member = raftkv::cmd::Member::Start(
      *config, [] { kill(getpid(), SIGTERM); },
      [&stop_signals] {
        const timespec now{0, 0};
        return sigtimedwait(&stop_signals, nullptr, &now) > 0;
      });
  if (!member.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(member.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr,
               "raftkv: member %s (id %llx, cluster %llx) serving clients on "
               "%s, peers on %s, data in %s\n",
               config->name.c_str(),
               static_cast<unsigned long long>((*member)->member_id()),
               static_cast<unsigned long long>((*member)->cluster_id()),
               config->listen_client_urls[0].c_str(),
               config->listen_peer_urls[0].c_str(), config->data_dir.c_str());
  // etcd's readiness lines, once the member serves clients and its publish
  // is applied: scripts and etcd's own e2e harness wait for them.
  int sig = 0;
  const timespec poll{0, 20 * 1000 * 1000};
  while (!(*member)->published()) {
    sig = sigtimedwait(&stop_signals, nullptr, &poll);
    if (sig > 0) break;
  }
  if (sig <= 0) {
    std::string urls;
    for (const auto& u : config->advertise_client_urls) {
      urls += (urls.empty() ? "" : " ") + u;
    }
    std::fprintf(
        stderr,
        "raftkv: enabled capabilities for version %s\n"
        "raftkv: published {Name:%s ClientURLs:[%s]} to cluster %llx\n",
        raftkv::rpc::kEtcdApiVersion, config->name.c_str(), urls.c_str(),
        static_cast<unsigned long long>((*member)->cluster_id()));
    sigwait(&stop_signals, &sig);
  }
  std::fprintf(stderr, "raftkv: member %s stopping (signal %d)\n",
               config->name.c_str(), sig);
  member->reset();
  return 0;
}
