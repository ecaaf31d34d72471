// raftkv: a member of a Raft-replicated, etcd-v3-compatible key-value store.
// Takes etcd's flag names; with no flags it runs a one-member cluster on
// 127.0.0.1:2379 (clients) and :2380 (peers) with data in ./default.raftkv.
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "cmd/raftkv/config.h"
#include "cmd/raftkv/member.h"

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
  absl::SetProgramUsageMessage(
      "raftkv [--name NAME] [--data-dir DIR] [--listen-client-urls URLS] "
      "[--initial-cluster NAME=URL,...] ... (etcd's flag names)");
  // etcd spells flags with dashes; absl with underscores. Accept both.
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) continue;
    const size_t eq = arg.find('=');
    for (size_t j = 2; j < (eq == std::string::npos ? arg.size() : eq); ++j) {
      if (argv[i][j] == '-') argv[i][j] = '_';
    }
  }
  absl::ParseCommandLine(argc, argv);
  auto config = raftkv::cmd::ConfigFromFlags();
  if (!config.ok()) {
    std::fprintf(stderr, "raftkv: %s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
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
        "raftkv: enabled capabilities for version 3.4\n"
        "raftkv: published {Name:%s ClientURLs:[%s]} to cluster %llx\n",
        config->name.c_str(), urls.c_str(),
        static_cast<unsigned long long>((*member)->cluster_id()));
    sigwait(&stop_signals, &sig);
  }
  std::fprintf(stderr, "raftkv: member %s stopping (signal %d)\n",
               config->name.c_str(), sig);
  member->reset();
  return 0;
}
