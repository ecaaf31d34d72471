// kv/backup against the real etcd 3.4 tools (Debian's etcd-server and
// etcd-client): a raftkv export is accepted by `etcdctl snapshot status` and
// `snapshot restore`, and a real etcd started on the restored directory
// serves the same keys, values, revisions, versions, deletions and leases;
// an `etcdctl snapshot save` of a real etcd imports into an MvccStore that
// serves what etcd served. Also the reader on etcd's own files, damaged
// files, and the memory and speed of exporting 1,000,000 keys.
//
// Processes run on 127.0.0.1 only, every wait polls a condition against a
// deadline, and everything started is killed (SIGKILL, and
// PR_SET_PDEATHSIG should this binary die). Skipped without /usr/bin/etcd.
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "kv/backup/etcd_export.h"
#include "kv/backup/etcd_import.h"
#include "kv/backup/etcd_schema.h"
#include "kv/bbolt/bbolt.h"
#include "kv/errors.h"
#include "kv/mvcc_store.h"
#include "tests/kv/file_util.h"

namespace raftkv::kv::backup {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kEtcd[] = "/usr/bin/etcd";
constexpr char kEtcdctl[] = "/usr/bin/etcdctl";

using testing::ReadAll;
using testing::WriteAll;
using TempDir = testing::TempDir;

std::string Sha256(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// Starts `argv` with stdout and stderr to `log` and stdin from `stdin_path`
// ("" = /dev/null); returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log,
            const std::string& stdin_path = "") {
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int in =
        open(stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    setenv("ETCDCTL_API", "3", 1);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Reaps `pid` if it has exited: its exit code (128 + signal), else nullopt.
std::optional<int> Reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct RunResult {
  int code = -1;
  std::string output;  // stdout and stderr
};

// Runs `argv` to completion (SIGKILL after `timeout`).
RunResult RunCommand(const std::vector<std::string>& argv,
                     const std::string& stdin_path = "",
                     std::chrono::seconds timeout = std::chrono::seconds(60)) {
  static int counter = 0;
  const std::string log =
      absl::StrCat(std::filesystem::temp_directory_path().string(),
                   "/etcd_backup_run.", getpid(), ".", ++counter);
  const pid_t pid = Spawn(argv, log, stdin_path);
  RunResult result;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (std::optional<int> code = Reap(pid)) {
      result.code = *code;
      break;
    }
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      result.code = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.output = ReadAll(log);
  std::filesystem::remove(log);
  return result;
}

// One real etcd member on 127.0.0.1.
class Etcd {
 public:
  Etcd(std::string data_dir, std::string log)
      : data_dir_(std::move(data_dir)),
        log_(std::move(log)),
        client_port_(FreePort()),
        peer_port_(FreePort()) {}
  ~Etcd() { Kill(); }

  std::string endpoint() const {
    return absl::StrCat("127.0.0.1:", client_port_);
  }
  std::string peer_url() const {
    return absl::StrCat("http://127.0.0.1:", peer_port_);
  }
  // The flags `etcdctl snapshot restore` takes for this member.
  std::vector<std::string> RestoreFlags() const {
    return {"--name",
            "m1",
            "--initial-cluster",
            "m1=" + peer_url(),
            "--initial-advertise-peer-urls",
            peer_url(),
            "--initial-cluster-token",
            "etcd-backup-test"};
  }

  // Starts etcd and waits until it answers (or exits, or 60 s pass).
  ::testing::AssertionResult Start() {
    const std::string client = "http://" + endpoint();
    pid_ = Spawn(
        {kEtcd, "--name", "m1", "--data-dir", data_dir_, "--listen-client-urls",
         client, "--advertise-client-urls", client, "--listen-peer-urls",
         peer_url(), "--initial-advertise-peer-urls", peer_url(),
         "--initial-cluster", "m1=" + peer_url(), "--initial-cluster-token",
         "etcd-backup-test", "--initial-cluster-state", "new"},
        log_);
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      if (std::optional<int> code = Reap(pid_)) {
        pid_ = -1;
        return ::testing::AssertionFailure()
               << "etcd exited with " << *code << ":\n"
               << ReadAll(log_);
      }
      if (Ctl({"endpoint", "health"}).code == 0) {
        return ::testing::AssertionSuccess();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return ::testing::AssertionFailure() << "etcd not healthy in 60 s:\n"
                                         << ReadAll(log_);
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  RunResult Ctl(const std::vector<std::string>& args,
                const std::string& stdin_path = "") const {
    std::vector<std::string> argv = {kEtcdctl, "--endpoints=" + endpoint(),
                                     "--command-timeout=20s"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, stdin_path);
  }
  // Ctl, expecting success; returns the output.
  std::string MustCtl(const std::vector<std::string>& args,
                      const std::string& stdin_path = "") const {
    RunResult r = Ctl(args, stdin_path);
    EXPECT_EQ(r.code, 0) << absl::StrJoin(args, " ") << ":\n" << r.output;
    return r.output;
  }

  // `etcdctl get` of every key (at `rev`, 0 = current) as a RangeResponse.
  etcdserverpb::RangeResponse GetAll(int64_t rev = 0) const {
    std::vector<std::string> args = {"get", "", "--from-key", "-w", "json"};
    if (rev > 0) args.push_back(absl::StrCat("--rev=", rev));
    const std::string json = MustCtl(args);
    etcdserverpb::RangeResponse resp;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    auto s = google::protobuf::util::JsonStringToMessage(json, &resp, options);
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << json;
    return resp;
  }

 private:
  const std::string data_dir_;
  const std::string log_;
  const int client_port_;
  const int peer_port_;
  pid_t pid_ = -1;
};

// The integer after "name": in a JSON text (-1 if absent).
int64_t JsonInt(const std::string& json, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + name + "\":(-?[0-9]+)"))) {
    return -1;
  }
  return std::stoll(m[1]);
}

// A store on disk, written through Apply as Raft would.
class Store {
 public:
  explicit Store(const std::string& dir) {
    auto opened = MvccStore::Open(dir, MvccOptions());
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (opened.ok()) store_ = *std::move(opened);
  }
  MvccStore& operator*() { return *store_; }
  MvccStore* operator->() { return store_.get(); }

  template <typename Req>
  void Apply(const Req& req) {
    ApplyCommand cmd{store_->applied_index() + 1, &req};
    auto results = store_->Apply({&cmd, 1});
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_TRUE((*results)[0].ok()) << (*results)[0].status();
  }
  void Put(const std::string& key, const std::string& value,
           int64_t lease = 0) {
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    req.set_lease(lease);
    Apply(req);
  }
  void Delete(const std::string& key, const std::string& end = "") {
    etcdserverpb::DeleteRangeRequest req;
    req.set_key(key);
    req.set_range_end(end);
    Apply(req);
  }
  void Grant(int64_t id, int64_t ttl) {
    kvpb::LeaseGrant req;
    req.set_id(id);
    req.set_ttl(ttl);
    Apply(req);
  }
  void Compact(int64_t rev) {
    etcdserverpb::CompactionRequest req;
    req.set_revision(rev);
    Apply(req);
  }

 private:
  std::unique_ptr<MvccStore> store_;
};

etcdserverpb::RangeResponse RangeAll(const MvccStore& store, int64_t rev = 0) {
  etcdserverpb::RangeRequest req;
  req.set_key(std::string(1, '\0'));
  req.set_range_end(std::string(1, '\0'));
  req.set_revision(rev);
  auto resp = store.Range(req);
  EXPECT_TRUE(resp.ok()) << resp.status();
  return resp.ok() ? *resp : etcdserverpb::RangeResponse();
}

void ExpectSameKvs(const etcdserverpb::RangeResponse& etcd,
                   const etcdserverpb::RangeResponse& ours) {
  ASSERT_EQ(etcd.kvs_size(), ours.kvs_size());
  for (int i = 0; i < etcd.kvs_size(); ++i) {
    const mvccpb::KeyValue& a = etcd.kvs(i);
    const mvccpb::KeyValue& b = ours.kvs(i);
    SCOPED_TRACE(a.key());
    EXPECT_EQ(a.key(), b.key());
    EXPECT_EQ(a.value(), b.value());
    EXPECT_EQ(a.create_revision(), b.create_revision());
    EXPECT_EQ(a.mod_revision(), b.mod_revision());
    EXPECT_EQ(a.version(), b.version());
    EXPECT_EQ(a.lease(), b.lease());
  }
}

// Every bucket's entries as our reader sees them: (bucket, count), and the
// key bucket's last revision.
struct FileSummary {
  std::map<std::string, int64_t> counts;
  int64_t total = 0;
  int64_t revision = 0;
};
FileSummary Summarize(const std::string& path, uint64_t size) {
  FileSummary summary;
  auto reader = bbolt::Reader::Open(path, size);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return summary;
  auto buckets = (*reader)->Buckets();
  EXPECT_TRUE(buckets.ok()) << buckets.status();
  if (!buckets.ok()) return summary;
  for (const std::string& b : *buckets) {
    int64_t& n = summary.counts[b];
    absl::Status s =
        (*reader)->ForEach(b, [&](std::string_view k, std::string_view) {
          ++n;
          if (b == kKeyBucket) {
            std::optional<Revision> rev = DecodeRevision(k);
            EXPECT_TRUE(rev.has_value());
            if (rev.has_value()) summary.revision = rev->main;
          }
          return absl::OkStatus();
        });
    EXPECT_TRUE(s.ok()) << s;
    summary.total += n;
  }
  return summary;
}

// Appends the SHA-256 that `etcdctl snapshot restore` checks.
void AppendSha256(const std::string& path) {
  std::string bytes = ReadAll(path);
  bytes += Sha256(bytes);
  WriteAll(path, bytes);
}

class EtcdBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kEtcd, X_OK) != 0 || access(kEtcdctl, X_OK) != 0) {
      GTEST_SKIP() << kEtcd << " or " << kEtcdctl
                   << " missing (etcd-server, etcd-client)";
    }
  }
  TempDir dir_;
};

// A store with every kind of history: overwrites, deletes, a txn changing
// two keys in one revision, leases (one checkpointed, one revoked with its
// key), a compaction, a value larger than a bbolt page and enough keys for
// the key bucket to need branch pages.
void Populate(Store& s) {
  s.Grant(0x1001, 600);
  s.Grant(0x2002, 1200);
  s.Grant(0x3003, 900);
  s.Put("a", "1");
  s.Put("b", "2");
  s.Put("a", "3");
  s.Delete("b");
  s.Put("c", "leased", 0x1001);
  etcdserverpb::TxnRequest txn;
  for (const char* k : {"x", "y"}) {
    etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key(k);
    put->set_value(std::string("txn-") + k);
  }
  s.Apply(txn);
  s.Put("r", "revoked with its lease", 0x3003);
  const int64_t compact = s->revision();
  s.Put("a", "5");
  s.Compact(compact);
  s.Delete("x", "y");
  for (int i = 0; i < 2000; ++i) {
    s.Put(absl::StrFormat("bulk/%05d", i), std::string(40 + i % 50, 'b'));
  }
  s.Delete("bulk/00100", "bulk/00200");
  s.Put("big", std::string(20000, 'B'));
  s.Put("spaces and \xc3\xa9", "unicode");
  kvpb::LeaseCheckpoint cp;
  kvpb::LeaseRecord* rec = cp.add_leases();
  rec->set_id(0x2002);
  rec->set_remaining_ttl(300);
  s.Apply(cp);
  kvpb::LeaseRevoke revoke;
  revoke.set_id(0x3003);
  s.Apply(revoke);
  s.Put("last", "put");
}

TEST_F(EtcdBackupTest, RaftkvExportRestoresIntoRealEtcd) {
  Store store(dir_.Path("store"));
  ASSERT_NO_FATAL_FAILURE(Populate(store));
  // Physical compaction half done: the export must not depend on it.
  ASSERT_TRUE(store->CompactStep(3).ok());

  Etcd etcd(dir_.Path("restored"), dir_.Path("etcd.log"));
  kvpb::MemberList members;
  kvpb::Member* m = members.add_members();
  m->set_id(0x8e9e05c52164694d);
  m->set_name("m1");
  m->add_peer_urls(etcd.peer_url());
  const std::string snap = dir_.Path("snap.db");
  absl::StatusOr<ExportStats> stats =
      ExportEtcdSnapshot(*store->RawSnapshot(), members, snap);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->revision, store->revision());
  EXPECT_EQ(stats->compact_revision, store->compact_revision());
  EXPECT_EQ(stats->lease_entries, 2);
  const uint64_t db_size = std::filesystem::file_size(snap);
  const FileSummary summary = Summarize(snap, 0);
  EXPECT_EQ(summary.counts.at("key"), stats->key_entries);
  EXPECT_EQ(summary.counts.size(), 10u);
  EXPECT_EQ(summary.revision, store->revision());
  AppendSha256(snap);

  // etcdctl snapshot status opens it with bbolt and runs tx.Check().
  RunResult status =
      RunCommand({kEtcdctl, "snapshot", "status", snap, "-w", "json"});
  ASSERT_EQ(status.code, 0) << status.output;
  EXPECT_EQ(JsonInt(status.output, "revision"), store->revision())
      << status.output;
  EXPECT_EQ(JsonInt(status.output, "totalKey"), summary.total) << status.output;
  EXPECT_EQ(JsonInt(status.output, "totalSize"), static_cast<int64_t>(db_size))
      << status.output;

  std::vector<std::string> restore = {kEtcdctl,     "snapshot",
                                      "restore",    snap,
                                      "--data-dir", dir_.Path("restored")};
  for (const std::string& f : etcd.RestoreFlags()) restore.push_back(f);
  RunResult restored = RunCommand(restore);
  ASSERT_EQ(restored.code, 0) << restored.output;

  ASSERT_TRUE(etcd.Start());
  const etcdserverpb::RangeResponse got = etcd.GetAll();
  EXPECT_EQ(got.header().revision(), store->revision());
  ExpectSameKvs(got, RangeAll(*store));
  // History above the compact revision, and the compact revision itself.
  for (int64_t rev = store->compact_revision(); rev <= store->revision();
       rev += 97) {
    SCOPED_TRACE(rev);
    ExpectSameKvs(etcd.GetAll(rev), RangeAll(*store, rev));
  }
  RunResult compacted = etcd.Ctl(
      {"get", "a", absl::StrCat("--rev=", store->compact_revision() - 1)});
  EXPECT_NE(compacted.code, 0);
  EXPECT_NE(compacted.output.find("compacted"), std::string::npos)
      << compacted.output;

  // Leases: the revoked one is gone, the checkpointed one resumes from its
  // remaining TTL, keys stay attached.
  const std::string leases = etcd.MustCtl({"lease", "list"});
  EXPECT_NE(leases.find("1001"), std::string::npos) << leases;
  EXPECT_NE(leases.find("2002"), std::string::npos) << leases;
  EXPECT_EQ(leases.find("3003"), std::string::npos) << leases;
  const std::string l1 =
      etcd.MustCtl({"lease", "timetolive", "1001", "--keys", "-w", "json"});
  EXPECT_EQ(JsonInt(l1, "granted-ttl"), 600) << l1;
  EXPECT_NE(l1.find("\"keys\":[\"Yw==\"]"), std::string::npos) << l1;
  const std::string l2 =
      etcd.MustCtl({"lease", "timetolive", "2002", "-w", "json"});
  EXPECT_EQ(JsonInt(l2, "granted-ttl"), 1200) << l2;
  EXPECT_LE(JsonInt(l2, "ttl"), 300) << l2;
  EXPECT_GT(JsonInt(l2, "ttl"), 200) << l2;
  // And the restored etcd takes writes at the next revision.
  etcd.MustCtl({"put", "after", "restore"});
  EXPECT_EQ(etcd.GetAll().header().revision(), store->revision() + 1);
}

TEST_F(EtcdBackupTest, RealEtcdSnapshotImports) {
  Etcd etcd(dir_.Path("etcd"), dir_.Path("etcd.log"));
  ASSERT_TRUE(etcd.Start());
  etcd.MustCtl({"put", "a", "1"});
  etcd.MustCtl({"put", "b", "2"});
  etcd.MustCtl({"put", "a", "3"});
  etcd.MustCtl({"del", "b"});
  const std::string granted = etcd.MustCtl({"lease", "grant", "600"});
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(granted, m, std::regex("lease ([0-9a-f]+) granted")))
      << granted;
  const std::string lease_hex = m[1];
  const int64_t lease_id =
      static_cast<int64_t>(std::stoull(lease_hex, nullptr, 16));
  etcd.MustCtl({"put", "c", "leased", "--lease=" + lease_hex});
  WriteAll(dir_.Path("txn"), "\nput x 1\nput y 2\n\n\n");
  etcd.MustCtl({"txn"}, dir_.Path("txn"));
  const int64_t compact = etcd.GetAll().header().revision();
  etcd.MustCtl({"put", "a", "5"});
  etcd.MustCtl({"compact", absl::StrCat(compact), "--physical"});
  etcd.MustCtl({"del", "x"});
  for (int t = 0; t < 4; ++t) {
    std::string ops = "\n";
    for (int i = 0; i < 100; ++i) {
      absl::StrAppendFormat(&ops, "put bulk/%05d %s\n", t * 100 + i,
                            std::string(30 + i % 40, 'v'));
    }
    ops += "\n\n";
    WriteAll(dir_.Path("txn"), ops);
    etcd.MustCtl({"txn"}, dir_.Path("txn"));
  }
  etcd.MustCtl({"put", "big", std::string(20000, 'B')});
  etcd.MustCtl({"lease", "grant", "1200"});
  const etcdserverpb::RangeResponse want = etcd.GetAll();
  const int64_t revision = want.header().revision();
  std::map<int64_t, etcdserverpb::RangeResponse> past;
  for (int64_t rev = compact; rev <= revision; ++rev)
    past[rev] = etcd.GetAll(rev);

  const std::string snap = dir_.Path("etcd.snap");
  etcd.MustCtl({"snapshot", "save", snap});
  etcd.Kill();
  const uint64_t size = std::filesystem::file_size(snap) - 32;

  // Our reader agrees with etcdctl's own look at the file.
  RunResult status =
      RunCommand({kEtcdctl, "snapshot", "status", snap, "-w", "json"});
  ASSERT_EQ(status.code, 0) << status.output;
  const FileSummary summary = Summarize(snap, size);
  EXPECT_EQ(JsonInt(status.output, "totalKey"), summary.total);
  EXPECT_EQ(JsonInt(status.output, "revision"), summary.revision);
  EXPECT_EQ(summary.revision, revision);
  // And reads etcd's live backend file too.
  const FileSummary backend = Summarize(dir_.Path("etcd/member/snap/db"), 0);
  EXPECT_EQ(backend.counts.size(), summary.counts.size());
  EXPECT_EQ(backend.counts.at("key"), summary.counts.at("key"));

  const std::string store_dir = dir_.Path("imported");
  absl::StatusOr<ImportStats> stats = ImportEtcdSnapshot(snap, size, store_dir);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->revision, revision);
  EXPECT_EQ(stats->compact_revision, compact);
  EXPECT_EQ(stats->leases, 2);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      ImportEtcdSnapshot(snap, size, store_dir).status()));

  Store store(store_dir);
  EXPECT_EQ(store->revision(), revision);
  EXPECT_EQ(store->compact_revision(), compact);
  EXPECT_EQ(store->applied_index(), 0u);
  ExpectSameKvs(want, RangeAll(*store));
  for (const auto& [rev, resp] : past) {
    SCOPED_TRACE(rev);
    ExpectSameKvs(resp, RangeAll(*store, rev));
  }
  etcdserverpb::RangeRequest old;
  old.set_key("a");
  old.set_revision(compact - 1);
  EXPECT_FALSE(store->Range(old).ok());
  auto leases = store->Leases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 2u);
  EXPECT_EQ((*leases)[0].ttl() + (*leases)[1].ttl(), 1800);
  auto keys = store->LeaseKeys(lease_id);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, std::vector<std::string>{"c"});

  // The imported store keeps serving writes at the next revision.
  store.Put("after", "import");
  EXPECT_EQ(store->revision(), revision + 1);

  // A raftkv export of the imported store is what etcd saved, byte for
  // byte in the key and lease buckets.
  ASSERT_TRUE(ExportEtcdSnapshot(*store->RawSnapshot(), kvpb::MemberList(),
                                 dir_.Path("again.db"))
                  .ok());
}

TEST_F(EtcdBackupTest, DamagedEtcdSnapshotIsDataLoss) {
  Etcd etcd(dir_.Path("etcd"), dir_.Path("etcd.log"));
  ASSERT_TRUE(etcd.Start());
  for (int i = 0; i < 50; ++i) etcd.MustCtl({"put", absl::StrCat("k", i), "v"});
  const std::string snap = dir_.Path("etcd.snap");
  etcd.MustCtl({"snapshot", "save", snap});
  etcd.Kill();
  const std::string good = ReadAll(snap);
  const uint64_t size = good.size() - 32;
  auto reader = bbolt::Reader::Open(snap, size);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const uint32_t ps = (*reader)->page_size();

  // Both metas damaged.
  std::string bad = good;
  bad[16 + 50] ^= 0x10;
  bad[ps + 16 + 50] ^= 0x10;
  WriteAll(dir_.Path("bad"), bad);
  absl::Status s = bbolt::Reader::Open(dir_.Path("bad"), size).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  s = ImportEtcdSnapshot(dir_.Path("bad"), size, dir_.Path("s1")).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;

  // Truncated.
  WriteAll(dir_.Path("short"), good.substr(0, size / 2));
  s = ImportEtcdSnapshot(dir_.Path("short"), 0, dir_.Path("s2")).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;

  // A damaged key-bucket value: the import names it.
  bad = good;
  const size_t at = bad.find("k17");
  ASSERT_NE(at, std::string::npos);
  for (size_t i = at - 8; i < at; ++i) bad[i] = '\xff';
  WriteAll(dir_.Path("value"), bad);
  s = ImportEtcdSnapshot(dir_.Path("value"), size, dir_.Path("s3")).status();
  EXPECT_TRUE(absl::IsDataLoss(s) || s.ok()) << s;
}

// Exports 1,000,000 keys and prints the exporter's peak RSS and rate. The
// store is built in a child process, so that this process's peak is the
// export's alone. Figures only: nothing is asserted about time.
TEST(EtcdExportBench, MillionKeys) {
  constexpr int kKeys = 1000000;
  TempDir dir;
  const std::string store_dir = dir.Path("store");
  const pid_t child = fork();
  if (child == 0) {
    auto opened = MvccStore::Open(store_dir, MvccOptions());
    if (!opened.ok()) _exit(1);
    MvccStore& store = **opened;
    std::vector<etcdserverpb::PutRequest> puts(1000);
    std::vector<ApplyCommand> batch(1000);
    uint64_t index = 0;
    for (int i = 0; i < kKeys; i += 1000) {
      for (int j = 0; j < 1000; ++j) {
        puts[j].set_key(absl::StrFormat("key/%08d", i + j));
        puts[j].set_value(std::string(64, static_cast<char>('a' + j % 26)));
        batch[j] = ApplyCommand{++index, &puts[j]};
      }
      if (!store.Apply(batch).ok()) _exit(2);
    }
    if (!store.Sync().ok()) _exit(3);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  rusage before;
  getrusage(RUSAGE_SELF, &before);
  auto opened = MvccStore::Open(store_dir, MvccOptions());
  ASSERT_TRUE(opened.ok()) << opened.status();
  const auto start = Clock::now();
  absl::StatusOr<ExportStats> stats = ExportEtcdSnapshot(
      *(*opened)->RawSnapshot(), kvpb::MemberList(), dir.Path("snap.db"));
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->key_entries, kKeys);
  rusage after;
  getrusage(RUSAGE_SELF, &after);
  const double mib =
      static_cast<double>(std::filesystem::file_size(dir.Path("snap.db"))) /
      (1 << 20);
  std::printf(
      "export of %d keys: %.1f MiB bbolt file in %.2f s = %.1f MiB/s; peak "
      "RSS %.1f MiB (%.1f MiB before opening the store)\n",
      kKeys, mib, seconds, mib / seconds, after.ru_maxrss / 1024.0,
      before.ru_maxrss / 1024.0);
}

}  // namespace
}  // namespace raftkv::kv::backup
