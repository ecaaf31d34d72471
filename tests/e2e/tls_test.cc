// Issue 12, bar 1: transport security, tried the way an outsider would,
// with the real etcdctl against real raftkv members.
//
// Client TLS with and without client-certificate auth (no certificate,
// another CA's certificate, the wrong CA for the server: all refused; the
// right ones work), --auto-tls, a revoked client certificate refused
// through --client-crl-file, --peer-auto-tls, peer mutual TLS where a member
// holding another CA's certificate or a disallowed CN cannot join while a
// member with the right certificate joins and catches up by snapshot,
// certificate rotation without a restart, and a client that opens a
// connection and never speaks being dropped.
//
// Certificates: etcd's own test fixtures (Debian's golang-etcd-server-dev)
// for the trusted CA, plus a second CA and its certificates made by the
// openssl command in each test's temporary directory.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_cluster.h"
#include "tests/rpc/client_test_util.h"

namespace raftkv::e2e {
namespace {

using raftkv::testing::RunProgram;
using raftkv::testing::RunResult;

const std::string kFixtures =
    "/usr/share/gocode/src/go.etcd.io/etcd/integration/fixtures";
const std::string kCa = kFixtures + "/ca.crt";
const std::string kCert = kFixtures + "/server.crt";  // CN example.com
const std::string kKey = kFixtures + "/server.key.insecure";
const std::string kCert2 = kFixtures + "/server2.crt";  // CN example2.com
const std::string kKey2 = kFixtures + "/server2.key.insecure";
const std::string kRevokedCert = kFixtures + "/server-revoked.crt";
const std::string kRevokedKey = kFixtures + "/server-revoked.key.insecure";
const std::string kCrl = kFixtures + "/revoke.crl";

// A CA that nobody trusts, and a certificate it signed for 127.0.0.1 /
// localhost (client and server use), in `dir`.
struct OtherCa {
  std::string ca, cert, key;
};

OtherCa MakeOtherCa(const std::string& dir,
                    const std::string& cn = "intruder") {
  OtherCa o{dir + "/other-ca.crt", dir + "/other.crt", dir + "/other.key"};
  const std::string ca_key = dir + "/other-ca.key";
  const std::string csr = dir + "/other.csr";
  const std::string ext = dir + "/other.ext";
  std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                        "extendedKeyUsage=serverAuth,clientAuth\n";
  for (const std::vector<std::string>& argv :
       std::vector<std::vector<std::string>>{
           {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", ca_key, "-out", o.ca, "-subj", "/CN=other-ca", "-days",
            "2"},
           {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", o.key,
            "-out", csr, "-subj", "/CN=" + cn},
           {"openssl", "x509", "-req", "-in", csr, "-CA", o.ca, "-CAkey",
            ca_key, "-CAcreateserial", "-out", o.cert, "-days", "2", "-extfile",
            ext}}) {
    RunResult r = RunProgram(argv);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(argv, " ") << ": " << r.err;
  }
  return o;
}

// etcdctl against `endpoint` with `tls` flags; `args` is the command.
RunResult Ctl(const std::string& endpoint, const std::vector<std::string>& tls,
              const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"etcdctl", "--endpoints=" + endpoint,
                                   "--dial-timeout=3s", "--command-timeout=5s"};
  argv.insert(argv.end(), tls.begin(), tls.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, "", {"ETCDCTL_API=3"}, absl::Seconds(15));
}

// curl against `url` with `tls` flags (curl's --cacert/--cert/--key) and
// `extra` arguments; offers ALPN h2 and http/1.1 as curl does by default.
RunResult Curl(const std::string& url, const std::vector<std::string>& tls,
               const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"curl", "-sS", "--max-time", "5"};
  argv.insert(argv.end(), tls.begin(), tls.end());
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  return RunProgram(argv, "", {}, absl::Seconds(10));
}

std::vector<std::string> Trusting(const std::string& ca) {
  return {"--cacert=" + ca};
}
std::vector<std::string> WithCert(const std::string& ca,
                                  const std::string& cert,
                                  const std::string& key) {
  return {"--cacert=" + ca, "--cert=" + cert, "--key=" + key};
}

// Waits until member i's /health (plain HTTP on its metrics URL) is true.
bool Healthy(ProcessCluster& c, int i, absl::Duration timeout) {
  return WaitFor(
      [&] {
        auto body = c.HttpGet(i, "/health");
        return body.ok() && absl::StrContains(*body, "\"health\":\"true\"");
      },
      timeout, absl::Milliseconds(100));
}

void StartAll(ProcessCluster& c) {
  for (int i = 0; i < c.size(); ++i) ASSERT_TRUE(c.StartMember(i).ok());
  for (int i = 0; i < c.size(); ++i) {
    ASSERT_TRUE(Healthy(c, i, absl::Seconds(40))) << c.Log(i);
  }
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kCa))
        << kCa
        << " missing: scripts/install-deps.sh installs golang-etcd-server-dev";
    ASSERT_TRUE(raftkv::testing::HaveProgram("etcdctl"));
    ASSERT_TRUE(raftkv::testing::HaveProgram("openssl"));
  }
  raftkv::testing::TempDir dir_;
};

TEST_F(TlsTest, ClientCertAuthAdmitsOnlyCertificatesOfTheTrustedCa) {
  ClusterOptions o;
  o.client_scheme = "https";
  o.extra_flags = {"--cert-file=" + kCert, "--key-file=" + kKey,
                   "--trusted-ca-file=" + kCa, "--client-cert-auth"};
  ProcessCluster c(o);
  StartAll(c);
  const OtherCa other = MakeOtherCa(dir_.path());
  const std::string ep = c.client_url(0);

  RunResult ok = Ctl(ep, WithCert(kCa, kCert, kKey), {"put", "k", "v"});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  for (int i = 0; i < c.size(); ++i) {
    RunResult get = Ctl(c.client_url(i), WithCert(kCa, kCert, kKey),
                        {"get", "k", "--print-value-only"});
    EXPECT_EQ(get.out, "v\n") << get.err;
  }
  // No client certificate.
  RunResult none = Ctl(ep, Trusting(kCa), {"put", "k", "x"});
  EXPECT_NE(none.exit_code, 0) << none.out;
  // A certificate from another CA.
  RunResult foreign =
      Ctl(ep, WithCert(kCa, other.cert, other.key), {"put", "k", "x"});
  EXPECT_NE(foreign.exit_code, 0) << foreign.out;
  // The client trusts the wrong CA: it refuses the server.
  RunResult wrong_ca = Ctl(ep, WithCert(other.ca, kCert, kKey), {"get", "k"});
  EXPECT_NE(wrong_ca.exit_code, 0) << wrong_ca.out;
  // Plaintext to the TLS port.
  RunResult plain =
      Ctl(absl::StrCat("http://", c.client_endpoint(0)), {}, {"get", "k"});
  EXPECT_NE(plain.exit_code, 0) << plain.out;
  // None of the refused writes landed.
  RunResult get =
      Ctl(ep, WithCert(kCa, kCert, kKey), {"get", "k", "--print-value-only"});
  EXPECT_EQ(get.out, "v\n") << get.err;
}

// HTTP/1.1 on an https client URL, as etcd serves it there: curl reaches
// /health, /version, /metrics and the JSON gateway on the very port where
// etcdctl speaks gRPC, under the same client-certificate rules.
TEST_F(TlsTest, HttpsClientUrlServesHttpAndGrpcUnderOnePolicy) {
  ASSERT_TRUE(raftkv::testing::HaveProgram("curl"));
  ClusterOptions o;
  o.size = 1;
  o.client_scheme = "https";
  o.extra_flags = {"--cert-file=" + kCert, "--key-file=" + kKey,
                   "--trusted-ca-file=" + kCa, "--client-cert-auth"};
  ProcessCluster c(o);
  StartAll(c);
  const OtherCa other = MakeOtherCa(dir_.path());
  const std::string url = c.client_url(0);
  const std::vector<std::string> good = {"--cacert", kCa,     "--cert",
                                         kCert,      "--key", kKey};

  RunResult health = Curl(url + "/health", good);
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_TRUE(absl::StrContains(health.out, "\"health\":\"true\""))
      << health.out;
  // Offering only http/1.1, and offering h2 too (curl's default): both are
  // served as HTTP/1.1 by the member.
  RunResult version = Curl(url + "/version", good, {"--http1.1"});
  EXPECT_TRUE(absl::StrContains(version.out, "\"etcdserver\""))
      << version.out << version.err;
  RunResult metrics = Curl(url + "/metrics", good, {"--http2"});
  EXPECT_TRUE(absl::StrContains(metrics.out, "etcd_server_has_leader 1"))
      << metrics.err;
  // The JSON gateway: put foo=bar ("Zm9v", "YmFy"), read by etcdctl over
  // gRPC on the same port.
  RunResult put =
      Curl(url + "/v3/kv/put", good,
           {"-X", "POST", "-d", R"({"key":"Zm9v","value":"YmFy"})"});
  EXPECT_TRUE(absl::StrContains(put.out, "\"revision\"")) << put.out << put.err;
  RunResult get = Ctl(url, WithCert(kCa, kCert, kKey),
                      {"get", "foo", "--print-value-only"});
  EXPECT_EQ(get.out, "bar\n") << get.err;

  // Refused as gRPC is: no client certificate, another CA's certificate, a
  // client that does not trust the server, plaintext HTTP.
  RunResult none = Curl(url + "/health", {"--cacert", kCa});
  EXPECT_NE(none.exit_code, 0) << none.out;
  RunResult foreign =
      Curl(url + "/v3/kv/put",
           {"--cacert", kCa, "--cert", other.cert, "--key", other.key},
           {"-X", "POST", "-d", R"({"key":"Zm9v","value":"eA=="})"});
  EXPECT_NE(foreign.exit_code, 0) << foreign.out;
  RunResult untrusted = Curl(
      url + "/health", {"--cacert", other.ca, "--cert", kCert, "--key", kKey});
  EXPECT_NE(untrusted.exit_code, 0) << untrusted.out;
  RunResult plain =
      Curl(absl::StrCat("http://", c.client_endpoint(0), "/health"), {});
  EXPECT_FALSE(absl::StrContains(plain.out, "\"health\"")) << plain.out;
  // Nothing refused landed, and the refusals were counted.
  RunResult after = Ctl(url, WithCert(kCa, kCert, kKey),
                        {"get", "foo", "--print-value-only"});
  EXPECT_EQ(after.out, "bar\n") << after.err;
  auto counters = c.HttpGet(0, "/metrics");
  ASSERT_TRUE(counters.ok());
  EXPECT_FALSE(absl::StrContains(
      *counters, "raftkv_client_connections_total{kind=\"tls_failed\"} 0"))
      << *counters;
}

TEST_F(TlsTest, ServerTlsWithoutClientAuthServesAnyClientThatTrustsIt) {
  ClusterOptions o;
  o.size = 1;
  o.client_scheme = "https";
  o.extra_flags = {"--cert-file=" + kCert, "--key-file=" + kKey};
  ProcessCluster c(o);
  StartAll(c);
  const OtherCa other = MakeOtherCa(dir_.path());
  RunResult put = Ctl(c.client_url(0), Trusting(kCa), {"put", "a", "1"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  RunResult wrong_ca = Ctl(c.client_url(0), Trusting(other.ca), {"get", "a"});
  EXPECT_NE(wrong_ca.exit_code, 0) << wrong_ca.out;
}

TEST_F(TlsTest, AutoTlsEncryptsWithASelfSignedCertificate) {
  ClusterOptions o;
  o.client_scheme = "https";
  o.extra_flags = {"--auto-tls"};
  ProcessCluster c(o);
  StartAll(c);
  // etcdctl speaks TLS without any certificate flag only when told to.
  const std::vector<std::string> skip = {"--insecure-transport=false",
                                         "--insecure-skip-tls-verify"};
  RunResult put = Ctl(c.client_url(1), skip, {"put", "a", "1"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  RunResult get =
      Ctl(c.client_url(2), skip, {"get", "a", "--print-value-only"});
  EXPECT_EQ(get.out, "1\n") << get.err;
  // Nobody can verify a self-signed certificate against a CA.
  RunResult verify = Ctl(c.client_url(0), Trusting(kCa), {"get", "a"});
  EXPECT_NE(verify.exit_code, 0) << verify.out;
}

TEST_F(TlsTest, RevokedClientCertificateIsRefused) {
  ClusterOptions o;
  o.size = 1;
  o.client_scheme = "https";
  o.extra_flags = {"--cert-file=" + kCert, "--key-file=" + kKey,
                   "--trusted-ca-file=" + kCa, "--client-cert-auth",
                   "--client-crl-file=" + kCrl};
  ProcessCluster c(o);
  StartAll(c);
  RunResult good =
      Ctl(c.client_url(0), WithCert(kCa, kCert, kKey), {"put", "a", "1"});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  RunResult revoked =
      Ctl(c.client_url(0), WithCert(kCa, kRevokedCert, kRevokedKey),
          {"put", "a", "2"});
  EXPECT_NE(revoked.exit_code, 0) << revoked.out;
  EXPECT_TRUE(absl::StrContains(c.Log(0), "revoked")) << c.Log(0);
  // HTTP on the same port checks the same list.
  RunResult http_revoked =
      Curl(c.client_url(0) + "/health",
           {"--cacert", kCa, "--cert", kRevokedCert, "--key", kRevokedKey});
  EXPECT_NE(http_revoked.exit_code, 0) << http_revoked.out;
  RunResult http_good = Curl(c.client_url(0) + "/health",
                             {"--cacert", kCa, "--cert", kCert, "--key", kKey});
  EXPECT_TRUE(absl::StrContains(http_good.out, "true")) << http_good.err;
  RunResult get = Ctl(c.client_url(0), WithCert(kCa, kCert, kKey),
                      {"get", "a", "--print-value-only"});
  EXPECT_EQ(get.out, "1\n");
}

TEST_F(TlsTest, PeerAutoTlsReplicates) {
  ClusterOptions o;
  o.peer_scheme = "https";
  o.extra_flags = {"--peer-auto-tls"};
  ProcessCluster c(o);
  ASSERT_TRUE(c.Start(absl::Seconds(40)).ok()) << c.Logs();
  RunResult put = Ctl(c.client_url(0), {}, {"put", "a", "1"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  for (int i = 0; i < c.size(); ++i) {
    RunResult get =
        Ctl(c.client_url(i), {}, {"get", "a", "--print-value-only"});
    EXPECT_EQ(get.out, "1\n") << "member " << i << ": " << get.err;
  }
}

// Peer mutual TLS: a member with the right certificate joins over TLS and
// catches up by snapshot; one with another CA's certificate, and one with a
// disallowed CN, cannot join, send Raft messages or read the member list.
TEST_F(TlsTest, PeerMutualTlsAdmitsOnlyAcceptedCertificates) {
  ClusterOptions o;
  o.peer_scheme = "https";
  o.snapshot_count = 50;
  o.extra_flags = {"--peer-cert-file=" + kCert, "--peer-key-file=" + kKey,
                   "--peer-trusted-ca-file=" + kCa, "--peer-client-cert-auth",
                   "--peer-cert-allowed-cn=example.com"};
  const OtherCa other = MakeOtherCa(dir_.path());
  o.member_flags[4] = {"--peer-cert-file=" + other.cert,
                       "--peer-key-file=" + other.key};
  o.member_flags[5] = {"--peer-cert-file=" + kCert2,
                       "--peer-key-file=" + kKey2};
  ProcessCluster c(o);
  ASSERT_TRUE(c.Start(absl::Seconds(40)).ok()) << c.Logs();
  auto client = c.ClientOfAll();
  for (int k = 0; k < 200; ++k) {
    ASSERT_TRUE(client->Put(absl::StrCat("key", k), absl::StrCat("v", k)).ok());
  }
  const std::string all = absl::StrJoin(c.client_endpoints(), ",");
  auto add = [&](const std::vector<int>& current) {
    const int i = c.AddMember(current);
    RunResult r = Ctl(
        all, {}, {"member", "add", c.name(i), "--peer-urls=" + c.peer_url(i)});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(c.StartMember(i).ok());
    return i;
  };
  // m4: the right certificate. It joins and catches up (by snapshot: the
  // log was compacted every 50 entries).
  const int good = add({0, 1, 2});
  ASSERT_TRUE(Healthy(c, good, absl::Seconds(40))) << c.Log(good);
  auto good_client = c.ClientOf(good);
  ASSERT_TRUE(WaitFor(
      [&] {
        etcdserverpb::RangeRequest req;
        req.set_key("key199");
        req.set_serializable(true);
        auto v = good_client->Range(req);
        return v.ok() && v->kvs_size() == 1 && v->kvs(0).value() == "v199";
      },
      absl::Seconds(30)))
      << c.Log(good);
  EXPECT_GE(c.Metric(good, "raftkv_snapshots_received_total"), 1)
      << c.Log(good);

  // m5: another CA's certificate; m6: this CA, but CN example2.com.
  for (const std::vector<int>& current :
       std::vector<std::vector<int>>{{0, 1, 2, 3}, {0, 1, 2, 3}}) {
    const int bad = add(current);
    // It cannot even fetch the member list: it exits, or waits, refused.
    EXPECT_TRUE(WaitFor(
        [&] {
          return absl::StrContains(c.Log(bad),
                                   "remote error: tls: bad certificate");
        },
        absl::Seconds(20)))
        << c.Log(bad);
    EXPECT_FALSE(Healthy(c, bad, absl::Seconds(2)));
    c.Kill(bad);
    RunResult list = Ctl(all, {}, {"member", "list"});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    // Remove the never-started member again so quorum stays among the good.
    for (absl::string_view line : absl::StrSplit(list.out, '\n')) {
      if (absl::StrContains(line, c.name(bad)) ||
          absl::StrContains(line, "unstarted")) {
        const std::string id(line.substr(0, line.find(',')));
        RunResult rm = Ctl(all, {}, {"member", "remove", id});
        EXPECT_EQ(rm.exit_code, 0) << rm.out << rm.err;
      }
    }
  }
  // The refusing members logged who they refused.
  std::string logs;
  for (int i = 0; i < 4; ++i) logs += c.Log(i, 200000);
  EXPECT_TRUE(absl::StrContains(logs, "rejected connection")) << logs;
  // The cluster still serves, through every good member.
  ASSERT_TRUE(client->Put("after", "1").ok());
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(Healthy(c, i, absl::Seconds(20))) << c.Log(i);
  }
}

TEST_F(TlsTest, ReplacedCertificateIsUsedWithoutRestart) {
  const std::string cert = dir_.path() + "/live.crt";
  const std::string key = dir_.path() + "/live.key";
  std::filesystem::copy_file(kCert, cert);
  std::filesystem::copy_file(kKey, key);
  ClusterOptions o;
  o.size = 1;
  o.client_scheme = "https";
  o.extra_flags = {"--cert-file=" + cert, "--key-file=" + key};
  ProcessCluster c(o);
  StartAll(c);
  RunResult before = Ctl(c.client_url(0), Trusting(kCa), {"put", "a", "1"});
  ASSERT_EQ(before.exit_code, 0) << before.err;

  // Replace key and certificate (each by an atomic rename) with a pair from
  // another CA: new handshakes present it.
  const OtherCa other = MakeOtherCa(dir_.path(), "rotated");
  std::filesystem::copy_file(other.key, key + ".new");
  std::filesystem::copy_file(other.cert, cert + ".new");
  std::filesystem::rename(key + ".new", key);
  std::filesystem::rename(cert + ".new", cert);
  EXPECT_TRUE(WaitFor(
      [&] {
        return Ctl(c.client_url(0), Trusting(other.ca), {"get", "a"})
                   .exit_code == 0;
      },
      absl::Seconds(20), absl::Milliseconds(200)))
      << c.Log(0);
  RunResult old_ca = Ctl(c.client_url(0), Trusting(kCa), {"get", "a"});
  EXPECT_NE(old_ca.exit_code, 0) << old_ca.out;
  // HTTP on the same port presents the new pair too.
  EXPECT_TRUE(WaitFor(
      [&] {
        return Curl(c.client_url(0) + "/health", {"--cacert", other.ca})
                   .exit_code == 0;
      },
      absl::Seconds(10), absl::Milliseconds(200)));
  RunResult http_old_ca = Curl(c.client_url(0) + "/health", {"--cacert", kCa});
  EXPECT_NE(http_old_ca.exit_code, 0) << http_old_ca.out;
}

// A client that opens a TCP connection to the TLS port and never sends a
// byte is dropped within a few seconds (GHSA-6vch-q96h-7gc3), and the
// member keeps serving meanwhile.
TEST_F(TlsTest, SilentConnectionIsDropped) {
  ClusterOptions o;
  o.size = 1;
  o.client_scheme = "https";
  o.extra_flags = {"--cert-file=" + kCert, "--key-file=" + kKey};
  ProcessCluster c(o);
  StartAll(c);
  const std::string hp = c.client_endpoint(0);
  const int port = std::stoi(hp.substr(hp.rfind(':') + 1));
  std::vector<int> fds;
  for (int k = 0; k < 20; ++k) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    fds.push_back(fd);
  }
  RunResult put = Ctl(c.client_url(0), Trusting(kCa), {"put", "a", "1"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  const absl::Time start = absl::Now();
  for (int fd : fds) {
    pollfd p{fd, POLLIN, 0};
    // Closed by the server: readable with EOF (or reset).
    ASSERT_EQ(poll(&p, 1, 15000), 1) << "connection still open after 15 s";
    char byte;
    EXPECT_LE(recv(fd, &byte, 1, 0), 0);
    close(fd);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(12));
}

}  // namespace
}  // namespace raftkv::e2e
