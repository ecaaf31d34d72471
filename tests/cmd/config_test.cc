// raftkv's etcd 3.4 command line (cmd/raftkv/etcd_flags.h), ETCD_*
// variables and --config-file (config_file.h) as config.h combines them.
#include "cmd/raftkv/config.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace raftkv::cmd {
namespace {

using Args = std::vector<std::string>;

absl::StatusOr<Invocation> Parse(Args args, Args env = {}) {
  return ParseInvocation(args, env);
}

std::string Error(Args args, Args env = {}) {
  auto inv = Parse(args, env);
  return inv.ok() ? "(accepted)" : std::string(inv.status().message());
}

bool Logged(const Invocation& inv, absl::string_view text) {
  for (const auto& line : inv.log) {
    if (absl::StrContains(line, text)) return true;
  }
  return false;
}

// A file in the test's temporary directory, removed at the end.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text)
      : path_(absl::StrCat(::testing::TempDir(), "/", getpid(), "-", name)) {
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CommandLine, BooleansTakeGoForms) {
  for (const Args& args :
       {Args{"--strict-reconfig-check=false"}, Args{"-strict-reconfig-check=f"},
        Args{"--strict-reconfig-check=0"},
        Args{"--strict-reconfig-check=FALSE"}}) {
    auto inv = Parse(args);
    ASSERT_TRUE(inv.ok()) << args[0] << ": " << inv.status();
    EXPECT_FALSE(inv->config.strict_reconfig_check) << args[0];
  }
  for (const Args& args : {Args{"--experimental-initial-corrupt-check"},
                           Args{"-experimental-initial-corrupt-check"},
                           Args{"--experimental-initial-corrupt-check=true"},
                           Args{"-experimental-initial-corrupt-check=T"}}) {
    auto inv = Parse(args);
    ASSERT_TRUE(inv.ok()) << args[0] << ": " << inv.status();
    EXPECT_TRUE(inv->config.initial_corrupt_check) << args[0];
  }
  // As Go: a boolean takes no separate value, so "false" is left over.
  EXPECT_EQ(Error({"--strict-reconfig-check", "false"}),
            "'false' is not a valid flag");
  EXPECT_EQ(Error({"--strict-reconfig-check=maybe"}),
            "invalid value \"maybe\" for flag -strict-reconfig-check: parse "
            "error (want true or false)");
}

TEST(CommandLine, ValuesSingleDashAndErrors) {
  auto inv =
      Parse({"-name", "n1", "--data-dir=/tmp/x", "-snapshot-count", "0x10"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->config.name, "n1");
  EXPECT_EQ(inv->config.data_dir, "/tmp/x");
  EXPECT_EQ(inv->config.snapshot_count, 16u);
  EXPECT_EQ(Error({"--no-such-flag"}),
            "flag provided but not defined: -no-such-flag");
  EXPECT_EQ(Error({"--name"}), "flag needs an argument: -name");
  EXPECT_EQ(Error({"--heartbeat-interval=abc"}),
            "invalid value \"abc\" for flag -heartbeat-interval: not an "
            "unsigned integer");
  EXPECT_EQ(Error({"---name=x"}), "bad flag syntax: ---name=x");
  EXPECT_EQ(Error({"stray"}), "'stray' is not a valid flag");
}

TEST(CommandLine, ActionsAndRetiredFlags) {
  EXPECT_EQ(Parse({"--help"})->action, Invocation::Action::kHelp);
  EXPECT_EQ(Parse({"-h"})->action, Invocation::Action::kHelp);
  EXPECT_EQ(Parse({"--version"})->action, Invocation::Action::kVersion);
  EXPECT_EQ(Parse({"--raftkv-check-config"})->action,
            Invocation::Action::kCheckConfig);
  auto inv = Parse({"--force", "-v"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(Logged(*inv, "flag \"-force\" is no longer supported"));
}

TEST(CommandLine, RefusedUnlessNeutral) {
  EXPECT_EQ(Error({"--proxy=on"}),
            "--proxy=on is not supported: raftkv has no v2 proxy");
  EXPECT_TRUE(absl::StrContains(Error({"--enable-v2"}),
                                "--enable-v2=true is not supported"));
  EXPECT_TRUE(absl::StrContains(Error({"--wal-dir", "/tmp/w"}), "--wal-dir"));
  for (const Args& neutral :
       {Args{"--proxy=off"}, Args{"--enable-v2=false"}, Args{"--max-wals=5"},
        Args{"--grpc-keepalive-interval=120m"}, Args{"--cors=*"},
        Args{"--discovery-fallback=exit"}}) {
    EXPECT_EQ(Error(neutral), "(accepted)") << neutral[0];
  }
}

TEST(CommandLine, AcceptedFlagsReachTheConfig) {
  auto inv = Parse({"--quota-backend-bytes=1024", "--max-concurrent-streams",
                    "7", "--enable-grpc-gateway=false",
                    "--auth-token=jwt,sign-method=RS256,ttl=5m", "--logger=zap",
                    "--debug", "--log-outputs=stderr",
                    "--experimental-watch-progress-notify-interval=2s"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  const ServerConfig& c = inv->config;
  EXPECT_EQ(c.quota_backend_bytes, 1024);
  EXPECT_EQ(c.max_concurrent_streams, 7u);
  EXPECT_FALSE(c.enable_grpc_gateway);
  EXPECT_EQ(c.auth_token, "jwt,sign-method=RS256,ttl=5m");
  EXPECT_EQ(c.logger, "zap");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.watch_progress_notify_interval, absl::Seconds(2));
  EXPECT_EQ(Parse({})->config.max_concurrent_streams, 0u);  // MaxUint32
  EXPECT_TRUE(absl::StrContains(Error({"--auth-token=jwt"}), "sign-method"));
  EXPECT_TRUE(absl::StrContains(Error({"--auth-token=oauth"}), "--auth-token"));
  EXPECT_TRUE(absl::StrContains(Error({"--logger=glog"}), "--logger"));
  EXPECT_TRUE(absl::StrContains(Error({"--bcrypt-cost=40"}), "--bcrypt-cost"));
  EXPECT_TRUE(absl::StrContains(
      Error({"--experimental-enable-lease-checkpoint-persist"}),
      "requires experimental-enable-lease-checkpoint"));
}

TEST(Urls, SeveralPerMemberPortZeroAndUnix) {
  auto inv =
      Parse({"--name", "a", "--listen-client-urls",
             "http://127.0.0.1:0,http://127.0.0.1:0", "--listen-peer-urls",
             "http://127.0.0.1:7001,http://127.0.0.1:7002",
             "--initial-advertise-peer-urls",
             "http://127.0.0.1:7001,http://127.0.0.1:7002", "--initial-cluster",
             "a=http://127.0.0.1:7001,a=http://127.0.0.1:7002,b=http://"
             "127.0.0.1:7003"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->config.listen_client_urls.size(), 2u);
  EXPECT_EQ(inv->config.initial_cluster["a"].size(), 2u);
  EXPECT_EQ(inv->config.initial_members.members_size(), 2);
  auto unix_peer =
      Parse({"--name", "e1", "--listen-peer-urls", "unix://etcd.unix:1",
             "--initial-advertise-peer-urls", "unix://etcd.unix:1",
             "--initial-cluster", "e1=unix://etcd.unix:1"});
  ASSERT_TRUE(unix_peer.ok()) << unix_peer.status();
  EXPECT_EQ(*GrpcAddress("unix://etcd.unix:1", "--listen-peer-urls"),
            "unix:etcd.unix:1");
  EXPECT_EQ(*GrpcAddress("http://127.0.0.1:0", "--listen-client-urls"),
            "127.0.0.1:0");
  EXPECT_TRUE(absl::StrContains(
      Error({"--listen-client-urls=ftp://127.0.0.1:1"}), "scheme"));
  EXPECT_TRUE(
      absl::StrContains(Error({"--listen-client-urls=http://example.com:2379"}),
                        "expected IP in URL for binding"));
  EXPECT_TRUE(absl::StrContains(
      Error({"--listen-client-urls=http://127.0.0.1:1/path"}), "path"));
}

TEST(Environment, SetsUnsetFlagsOnly) {
  auto inv = Parse({}, {"ETCD_NAME=envname", "ETCD_SNAPSHOT_COUNT=5",
                        "ETCD_STRICT_RECONFIG_CHECK=false", "PATH=/bin"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->config.name, "envname");
  EXPECT_EQ(inv->config.snapshot_count, 5u);
  EXPECT_FALSE(inv->config.strict_reconfig_check);
  EXPECT_TRUE(
      Logged(*inv, "recognized and used environment variable ETCD_NAME"));
  // As etcd 3.4: a variable whose flag is also given is refused.
  EXPECT_EQ(Error({"--name=flagname"}, {"ETCD_NAME=envname"}),
            "conflicting environment variable \"ETCD_NAME\" is shadowed by "
            "corresponding command-line flag (either unset environment "
            "variable or disable flag)");
  // Empty values set nothing.
  EXPECT_EQ(Parse({}, {"ETCD_NAME="})->config.name, "default");
}

TEST(Environment, UnknownWarnsBadValuesAndRefusalsNameTheVariable) {
  auto inv = Parse({}, {"ETCD_NO_SUCH_THING=1"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(
      Logged(*inv, "unrecognized environment variable ETCD_NO_SUCH_THING=1"));
  EXPECT_EQ(Error({}, {"ETCD_ELECTION_TIMEOUT=soon"}),
            "invalid value \"soon\" for ETCD_ELECTION_TIMEOUT: not an "
            "unsigned integer");
  EXPECT_EQ(Error({}, {"ETCD_ENABLE_V2=true"}),
            "ETCD_ENABLE_V2=true is not supported: raftkv serves only the v3 "
            "API; it has no v2 store");
  EXPECT_TRUE(absl::StrContains(
      Error({}, {"ETCD_HEARTBEAT_INTERVAL=100", "ETCD_ELECTION_TIMEOUT=150"}),
      "ETCD_ELECTION_TIMEOUT must be at least twice ETCD_HEARTBEAT_INTERVAL"));
}

constexpr char kYaml[] = R"(name: 'fromfile'
data-dir:
snapshot-count: 777
heartbeat-interval: 50
election-timeout: 500
listen-peer-urls: http://127.0.0.1:7380
listen-client-urls: http://127.0.0.1:7379,http://127.0.0.1:7479
initial-advertise-peer-urls: http://127.0.0.1:7380
initial-cluster-state: 'new'
strict-reconfig-check: false
experimental-watch-progress-notify-interval: 3000000000
log-outputs: [stderr]
client-transport-security:
  client-cert-auth: false
  auto-tls: false
no-such-key: 1
)";

TEST(ConfigFile, EtcdKeys) {
  TempFile file("etcd.yml", kYaml);
  auto inv = Parse({"--config-file", file.path()});
  ASSERT_TRUE(inv.ok()) << inv.status();
  const ServerConfig& c = inv->config;
  EXPECT_EQ(c.name, "fromfile");
  EXPECT_EQ(c.data_dir, "fromfile.raftkv");  // null keeps the default
  EXPECT_EQ(c.snapshot_count, 777u);
  EXPECT_EQ(c.heartbeat_ms, 50);
  EXPECT_EQ(c.listen_client_urls.size(), 2u);
  EXPECT_FALSE(c.strict_reconfig_check);
  EXPECT_EQ(c.watch_progress_notify_interval, absl::Seconds(3));
  EXPECT_TRUE(Logged(*inv, "unknown key \"no-such-key\" ignored"));
  EXPECT_TRUE(Logged(*inv, absl::StrCat("Loading server configuration from \"",
                                        file.path(), "\"")));
}

TEST(ConfigFile, OtherFlagsAndEnvironmentIgnored) {
  TempFile file("etcd.yml", kYaml);
  auto inv = Parse({"--config-file", file.path(), "--name", "flag"},
                   {"ETCD_SNAPSHOT_COUNT=1", "ETCD_NAME=env"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->config.name, "fromfile");
  EXPECT_EQ(inv->config.snapshot_count, 777u);
  // ETCD_CONFIG_FILE stands in for the flag.
  auto from_env = Parse({"--name", "flag"},
                        {absl::StrCat("ETCD_CONFIG_FILE=", file.path())});
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->config.name, "fromfile");
  // Other flags are still syntax-checked, as etcd.
  EXPECT_TRUE(absl::StrContains(
      Error({"--config-file", file.path(), "--heartbeat-interval=x"}),
      "-heartbeat-interval"));
}

TEST(ConfigFile, ErrorsNameFileAndKey) {
  TempFile bad_value("bad.yml", "name: x\nheartbeat-interval: often\n");
  EXPECT_EQ(Error({"--config-file", bad_value.path()}),
            absl::StrCat(bad_value.path(),
                         ": key \"heartbeat-interval\": invalid value "
                         "\"often\": not an unsigned integer"));
  TempFile bad_map("map.yml", "listen-client-urls:\n  a: b\n");
  EXPECT_TRUE(absl::StrContains(Error({"--config-file", bad_map.path()}),
                                "key \"listen-client-urls\""));
  TempFile syntax("syntax.yml", "name: [unclosed\n");
  const std::string err = Error({"--config-file", syntax.path()});
  EXPECT_TRUE(absl::StartsWith(err, syntax.path() + ": line ")) << err;
  TempFile refused("refused.yml", "proxy: readonly\n");
  EXPECT_EQ(Error({"--config-file", refused.path()}),
            absl::StrCat(refused.path(),
                         ": key proxy=readonly is not supported: raftkv has "
                         "no v2 proxy"));
  TempFile tls("tls.yml",
               "client-transport-security:\n  cert-file: /no/such.crt\n"
               "  key-file: /no/such.key\n");
  EXPECT_TRUE(
      absl::StrContains(Error({"--config-file", tls.path()}), "/no/such.crt"));
  EXPECT_TRUE(absl::StrContains(Error({"--config-file", "/no/such.yml"}),
                                "/no/such.yml"));
}

}  // namespace
}  // namespace raftkv::cmd
