// raftkvctl over TLS (issue 12, client side), against a real server with
// client TLS: etcd 3.4 (/usr/bin/etcd), with Debian's etcd test
// certificates (golang-etcd-server-dev's integration/fixtures: one CA
// "ca" signing server.crt and the other leaf certificates, revoke.crl
// revoking server-revoked.crt, and CommonName-root.crt, a self-signed
// certificate of another CA).
//
// Each case runs raftkvctl and, where etcdctl 3.4 resolves the flags the
// same way, etcdctl with the same flags, and expects the same outcome: a put
// that succeeds (and a get that reads it back), or one that fails and
// leaves nothing written (checked through a trusted client).
//
// The suite is parameterized by the server binary: the same cases run
// against raftkv and against etcd 3.4 (the control).
#include <unistd.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "rpc/client/client.h"
#include "rpc/client/tls.h"
#include "tests/e2e/process_cluster.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::RunProgram;
using raftkv::testing::RunResult;

constexpr char kFixtures[] =
    "/usr/share/gocode/src/go.etcd.io/etcd/integration/fixtures/";

std::string Fixture(const std::string& name) {
  return absl::StrCat(kFixtures, name);
}

// The server under test.
struct Server {
  std::string name;
  std::string binary;
};

// gtest prints a parameter with this (test names and ctest's listing).
void PrintTo(const Server& server, std::ostream* os) { *os << server.name; }

// The client-facing TLS of one server.
struct ServerTls {
  std::string cert = Fixture("server.crt");
  std::string key = Fixture("server.key.insecure");
  bool client_cert_auth = false;  // with --trusted-ca-file ca.crt
  std::string crl;                // --client-crl-file, if set
};

// Flags of a client that trusts the fixtures' CA and presents one of its
// certificates (accepted with or without --client-cert-auth).
const std::vector<std::string> kTrusted = {
    "--cacert=" + Fixture("ca.crt"), "--cert=" + Fixture("server2.crt"),
    "--key=" + Fixture("server2.key.insecure")};

// The same as client library options.
client::ClientTlsOptions TrustedTls() {
  client::ClientTlsOptions tls;
  tls.ca_file = Fixture("ca.crt");
  tls.cert_file = Fixture("server2.crt");
  tls.key_file = Fixture("server2.key.insecure");
  return tls;
}

// One member serving clients on an https:// URL of its own port (the
// harness's plain client URL is overridden: both servers take the last of
// repeated flags); peer traffic stays plain.
class TlsServer {
 public:
  // `trusted`: how the test's own client (waiting for the server, checking
  // what was written) connects.
  TlsServer(const Server& server, const ServerTls& tls,
            client::ClientTlsOptions trusted = TrustedTls())
      : port_(raftkv::testing::FreeLoopbackPort()),
        trusted_(std::move(trusted)) {
    // The harness picks the peer and metrics ports itself: pick again in
    // the unlikely case one of them is port_.
    do {
      cluster_ = std::make_unique<ProcessCluster>(Options(server, tls, port_));
    } while (cluster_->peer_endpoint(0) == host_port() ||
             cluster_->metrics_endpoint(0) == host_port());
  }

  // Starts the member and waits until it serves the trusted client.
  absl::Status Start() {
    if (absl::Status s = cluster_->StartMember(0); !s.ok()) return s;
    // Serving once a trusted client's Status answers.
    std::string last;
    const bool ok = WaitFor(
        [&] {
          auto client = TrustedClient(absl::Seconds(1));
          if (!client.ok()) {
            last = client.status().ToString();
            return false;
          }
          auto status = (*client)->Status();
          last = status.status().ToString();
          return status.ok() && status->leader() != 0;
        },
        absl::Seconds(30), absl::Milliseconds(100));
    if (!ok) return absl::DeadlineExceededError("not serving: " + last);
    return absl::OkStatus();
  }

  std::string https() const {
    return absl::StrCat("https://127.0.0.1:", port_);
  }
  std::string http() const { return absl::StrCat("http://127.0.0.1:", port_); }
  std::string host_port() const { return absl::StrCat("127.0.0.1:", port_); }

  // A client library connection with the trusted options.
  absl::StatusOr<std::unique_ptr<client::Client>> TrustedClient(
      absl::Duration timeout = absl::Seconds(5)) const {
    client::Options options;
    options.dial_timeout = timeout;
    options.call_timeout = timeout;
    options.tls = trusted_;
    return client::Client::Connect({https()}, options);
  }

  // Whether `key` exists, read through the trusted client.
  bool Exists(const std::string& key) const {
    auto client = TrustedClient();
    if (!client.ok()) {
      ADD_FAILURE() << client.status();
      return false;
    }
    auto r = (*client)->Get(key);
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return false;
    }
    return r->kvs_size() > 0;
  }

 private:
  static ClusterOptions Options(const Server& server, const ServerTls& tls,
                                int port) {
    ClusterOptions o;
    o.binary = server.binary;
    o.size = 1;
    const std::string url = absl::StrCat("https://127.0.0.1:", port);
    o.extra_flags = {"--listen-client-urls=" + url,
                     "--advertise-client-urls=" + url,
                     "--cert-file=" + tls.cert, "--key-file=" + tls.key};
    if (tls.client_cert_auth) {
      o.extra_flags.push_back("--client-cert-auth");
      o.extra_flags.push_back("--trusted-ca-file=" + Fixture("ca.crt"));
    }
    if (!tls.crl.empty()) {
      o.extra_flags.push_back("--client-crl-file=" + tls.crl);
    }
    return o;
  }

  const int port_;
  const client::ClientTlsOptions trusted_;
  std::unique_ptr<ProcessCluster> cluster_;
};

// Runs `tool` (raftkvctl or etcdctl) with short timeouts, so that a refused
// connection fails within a few seconds.
RunResult Ctl(const std::string& tool, const std::string& endpoint,
              const std::vector<std::string>& flags,
              const std::vector<std::string>& args) {
  std::vector<std::string> argv = {tool, "--endpoints=" + endpoint,
                                   "--dial-timeout=2s", "--command-timeout=3s"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, "", {"ETCDCTL_API=3"}, absl::Seconds(30));
}

enum class Tools { kBoth, kRaftkvctlOnly };

class CtlTlsTest : public ::testing::TestWithParam<Server> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(raftkv::testing::HaveProgram("etcdctl"))
        << "etcdctl missing: run scripts/install-deps.sh";
    ASSERT_EQ(access(Fixture("ca.crt").c_str(), R_OK), 0)
        << "TLS fixtures missing under " << kFixtures
        << ": run scripts/install-deps.sh (golang-etcd-server-dev)";
  }

  // Puts a fresh key with `flags` through raftkvctl (and etcdctl) and
  // expects it to work, reading it back with the same flags, or to fail
  // with nothing written.
  void ExpectPut(TlsServer& server, const std::string& endpoint,
                 const std::vector<std::string>& flags, bool works,
                 Tools tools = Tools::kBoth) {
    std::vector<std::string> ctls = {RAFTKVCTL_PATH};
    if (tools == Tools::kBoth) ctls.push_back("etcdctl");
    for (const std::string& ctl : ctls) {
      const std::string key = absl::StrCat("k", ++keys_);
      SCOPED_TRACE(absl::StrCat(ctl, " --endpoints=", endpoint, " ",
                                absl::StrJoin(flags, " "), " put ", key));
      RunResult put = Ctl(ctl, endpoint, flags, {"put", key, "v"});
      if (works) {
        EXPECT_EQ(put.exit_code, 0) << put.err;
        EXPECT_EQ(put.out, "OK\n");
        RunResult get = Ctl(ctl, endpoint, flags, {"get", key});
        EXPECT_EQ(get.exit_code, 0) << get.err;
        EXPECT_EQ(get.out, key + "\nv\n");
      } else {
        EXPECT_NE(put.exit_code, 0) << put.out;
        EXPECT_FALSE(server.Exists(key));
      }
    }
  }

  int keys_ = 0;
};

TEST_P(CtlTlsTest, ServerCertificateIsVerified) {
  TlsServer server(GetParam(), ServerTls{});
  const absl::Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::string ca = "--cacert=" + Fixture("ca.crt");
  // The right CA, with an https:// endpoint or a bare host:port (any TLS
  // flag makes a bare endpoint use TLS).
  ExpectPut(server, server.https(), {ca}, true);
  ExpectPut(server, server.host_port(), {ca}, true);
  // No --cacert: the fixtures' CA is not among the system roots. raftkvctl
  // says so in a log line before etcdctl's error.
  ExpectPut(server, server.https(), {}, false);
  RunResult unverified = Ctl(RAFTKVCTL_PATH, server.https(), {}, {"get", "k"});
  EXPECT_NE(unverified.err.find("certificate verify failed"), std::string::npos)
      << unverified.err;
  EXPECT_TRUE(
      absl::EndsWith(unverified.err, "\nError: context deadline exceeded\n"))
      << unverified.err;
  ExpectPut(server, server.host_port(), {"--insecure-transport=false"}, false);
  // Plaintext against a TLS listener: no TLS flag, or http:// (always
  // plaintext, as clientv3) even with --cacert.
  ExpectPut(server, server.host_port(), {}, false);
  ExpectPut(server, server.http(), {ca}, false);
  // A CA that did not sign the server's certificate.
  ExpectPut(server, server.https(),
            {"--cacert=" + Fixture("CommonName-root.crt")}, false);
}

TEST_P(CtlTlsTest, InsecureSkipTlsVerifyAcceptsAnUnknownCa) {
  // The server presents a self-signed certificate of another CA.
  ServerTls tls;
  tls.cert = Fixture("CommonName-root.crt");
  tls.key = Fixture("CommonName-root.key");
  client::ClientTlsOptions skip;
  skip.insecure_skip_verify = true;
  TlsServer server(GetParam(), tls, skip);
  const absl::Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::string ca = "--cacert=" + Fixture("ca.crt");
  ExpectPut(server, server.https(), {ca}, false);
  ExpectPut(server, server.https(), {ca, "--insecure-skip-tls-verify"}, true);
  ExpectPut(server, server.host_port(),
            {"--insecure-transport=false", "--insecure-skip-tls-verify"}, true);
  // etcdctl ignores --insecure-skip-tls-verify on an https:// endpoint
  // unless another TLS flag is given; raftkvctl applies it (tls.h).
  ExpectPut(server, server.https(), {"--insecure-skip-tls-verify"}, true,
            Tools::kRaftkvctlOnly);
  // Alone, it does not turn a bare endpoint to TLS (as etcdctl).
  ExpectPut(server, server.host_port(), {"--insecure-skip-tls-verify"}, false);
}

TEST_P(CtlTlsTest, ClientCertAuth) {
  ServerTls tls;
  tls.client_cert_auth = true;
  tls.crl = Fixture("revoke.crl");
  TlsServer server(GetParam(), tls);
  const absl::Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::string ca = "--cacert=" + Fixture("ca.crt");
  // No client certificate: refused.
  ExpectPut(server, server.https(), {ca}, false);
  // A certificate of the trusted CA: accepted.
  ExpectPut(server, server.https(), kTrusted, true);
  ExpectPut(server, server.https(),
            {ca, "--cert=" + Fixture("client-nocn.crt"),
             "--key=" + Fixture("client-nocn.key.insecure")},
            true);
  // A certificate of another CA: refused.
  ExpectPut(server, server.https(),
            {ca, "--cert=" + Fixture("CommonName-root.crt"),
             "--key=" + Fixture("CommonName-root.key")},
            false);
  // A certificate of the trusted CA that the CRL revokes: refused.
  ExpectPut(server, server.https(),
            {ca, "--cert=" + Fixture("server-revoked.crt"),
             "--key=" + Fixture("server-revoked.key.insecure")},
            false);
}

// Unusable TLS flags fail before dialing, with etcdctl's exit code 128 and
// the flag and file named.
TEST(CtlTlsFlagsTest, UnusableFilesAreBadArguments) {
  struct Case {
    std::vector<std::string> flags;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{"--cacert=/nonexistent/ca.pem"},
       "Error: --cacert /nonexistent/ca.pem: No such file or directory\n"},
      {{"--cert=" + Fixture("server.crt")},
       "Error: --cert " + Fixture("server.crt") + " given without --key\n"},
      {{"--cert=" + Fixture("server.crt"), "--key=" + Fixture("server.crt")},
       "Error: --key " + Fixture("server.crt") +
           ": no PEM private key in the file\n"},
      {{"--cacert=" + Fixture("server.key.insecure")},
       "Error: --cacert " + Fixture("server.key.insecure") +
           ": no PEM certificate in the file\n"},
  };
  for (const Case& c : cases) {
    RunResult r =
        Ctl(RAFTKVCTL_PATH, "https://127.0.0.1:1", c.flags, {"get", "k"});
    EXPECT_EQ(r.exit_code, 128) << absl::StrJoin(c.flags, " ");
    EXPECT_EQ(r.err, c.error);
  }
}

// The servers the cases run against.
const Server kServers[] = {{"raftkv", RAFTKV_PATH}, {"etcd", "etcd"}};

INSTANTIATE_TEST_SUITE_P(Servers, CtlTlsTest, ::testing::ValuesIn(kServers),
                         [](const ::testing::TestParamInfo<Server>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace raftkv::e2e
