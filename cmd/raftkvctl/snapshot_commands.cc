// snapshot save, status and restore (etcdctl 3.4's snapshot_command.go and
// clientv3/snapshot): the same flags, output and errors, on the same file
// format — a bbolt database in etcd's schema followed by its SHA-256
// (kv/backup/), so that a file saved from raftkv or from etcd can be
// inspected and restored by either tool.
//
// restore builds a raftkv member data dir: <data-dir>/store from the file
// (kv/backup/etcd_import.h, at the file's revisions, with its leases) and
// <data-dir>/members.pb holding the new --initial-cluster with etcd's member
// and cluster IDs; no WAL. A member started on it finds its membership in
// members.pb and, its log being empty, bootstraps a new Raft log with that
// membership (as etcdctl writes a new WAL), so every member of the new
// cluster is restored from the same file with its own --name and
// --initial-advertise-peer-urls and the same --initial-cluster and
// --initial-cluster-token.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cmd/raftkvctl/command.h"
#include "cmd/raftkvctl/format.h"
#include "kv/backup/etcd_import.h"
#include "kv/backup/etcd_schema.h"
#include "kv/bbolt/bbolt.h"
#include "kv/members.h"
#include "raft/wal/crc32c.h"

namespace raftkv::ctl {
namespace {

constexpr size_t kSha256Bytes = 32;

struct RestoreFlags {
  std::string data_dir;
  std::string wal_dir;
  std::string initial_cluster = "default=http://localhost:2380";
  std::string initial_cluster_token = "etcd-cluster";
  std::string initial_advertise_peer_urls = "http://localhost:2380";
  std::string name = "default";
  bool skip_hash_check = false;
};
RestoreFlags restore_flags;

// etcdctl's snapshot manager logs with zap's production encoder on stderr;
// the same shape here. `fields` are name and JSON value pairs.
void LogInfo(const std::string& msg,
             const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string line = absl::StrCat(
      "{\"level\":\"info\",\"ts\":",
      absl::StrFormat("%.6f",
                      absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch())),
      ",\"caller\":\"raftkvctl/snapshot\",\"msg\":", GoJsonString(msg));
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&line, ",", GoJsonString(name), ":", value);
  }
  std::cerr << line << "}" << std::endl;
}

std::string Quoted(const std::string& s) { return GoJsonString(s); }

// etcd's hasChecksum: bbolt files are a multiple of 512 bytes, so 32 more
// is the digest save appended.
bool HasChecksum(uint64_t size) { return size % 512 == kSha256Bytes; }

// Go's %v of a []byte: "[1 2 255]".
std::string GoBytes(const unsigned char* b, size_t n) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < n; ++i) parts.push_back(absl::StrCat(b[i]));
  return absl::StrCat("[", absl::StrJoin(parts, " "), "]");
}

std::string GoStrings(const std::vector<std::string>& v) {
  return absl::StrCat("[", absl::StrJoin(v, " "), "]");
}

// Go's os error text, e.g. "stat f: no such file or directory".
std::string OsError(const std::string& op, const std::string& path) {
  return absl::StrCat(op, " ", path, ": ", std::strerror(errno));
}

// ---------------------------------------------------------------------------
// save

int DoSave(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    ExitWithError(kExitBadArgs, "snapshot save expects one argument");
  }
  const std::string& path = args[0];
  if (ctx.endpoints().size() != 1) {
    ExitWithError(kExitInterrupted,
                  absl::StrCat("snapshot must be requested to one selected "
                               "node, not multiple ",
                               GoStrings(ctx.endpoints())));
  }
  client::Client& c = ctx.client();
  const std::string part = path + ".part";
  const int fd =
      open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    ExitWithError(kExitInterrupted, absl::StrCat("could not open ", part, " (",
                                                 OsError("open", part), ")"));
  }
  auto fail = [&](const std::string& message) {
    close(fd);
    unlink(part.c_str());
    ExitWithError(kExitInterrupted, message);
  };
  LogInfo("created temporary db file", {{"path", Quoted(part)}});
  const absl::Time start = absl::Now();
  grpc::ClientContext call;
  // As etcdctl: no deadline unless --command-timeout was given.
  c.PrepareContext(call, ctx.globals().command_timeout == "5s"
                             ? absl::InfiniteDuration()
                             : ctx.command_timeout());
  std::unique_ptr<grpc::ClientReader<etcdserverpb::SnapshotResponse>> reader =
      c.maintenance(0).Snapshot(&call, etcdserverpb::SnapshotRequest());
  LogInfo("fetching snapshot", {{"endpoint", Quoted(ctx.endpoints()[0])}});
  etcdserverpb::SnapshotResponse resp;
  uint64_t size = 0;
  while (reader->Read(&resp)) {
    const std::string& blob = resp.blob();
    size_t done = 0;
    while (done < blob.size()) {
      const ssize_t n = write(fd, blob.data() + done, blob.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail(OsError("write", part));
      done += static_cast<size_t>(n);
    }
    size += blob.size();
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    fail(ErrorText(
        absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                     status.error_message())));
  }
  if (!HasChecksum(size)) {
    fail(absl::StrCat("sha256 checksum not found [bytes: ", size, "]"));
  }
  if (fsync(fd) != 0) fail(OsError("sync", part));
  if (close(fd) != 0) {
    unlink(part.c_str());
    ExitWithError(kExitInterrupted, OsError("close", part));
  }
  LogInfo("fetched snapshot",
          {{"endpoint", Quoted(ctx.endpoints()[0])},
           {"size", Quoted(HumanizeBytes(size))},
           {"took", Quoted(GoDuration(absl::Now() - start))}});
  if (rename(part.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    unlink(part.c_str());
    ExitWithError(kExitInterrupted, absl::StrCat("could not rename ", part,
                                                 " to ", path, " (", why, ")"));
  }
  LogInfo("saved", {{"path", Quoted(path)}});
  std::cout << "Snapshot saved at " << path << "\n";
  return kExitSuccess;
}

// ---------------------------------------------------------------------------
// status

struct DbStatus {
  uint32_t hash = 0;
  int64_t revision = 0;
  int64_t total_key = 0;
  int64_t total_size = 0;
};

// etcd's snapshot status: a CRC-32C over every bucket name and every key
// and value in it, the main revision of the last `key` entry, the number of
// pairs in all buckets, and the database's size (without the digest).
absl::StatusOr<DbStatus> ReadStatus(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(OsError("stat", path));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (HasChecksum(size)) size -= kSha256Bytes;
  auto reader = kv::bbolt::Reader::Open(path, size);
  if (!reader.ok()) return reader.status();
  auto buckets = (*reader)->Buckets();
  if (!buckets.ok()) return buckets.status();
  DbStatus out;
  out.total_size = static_cast<int64_t>(size);
  uint32_t crc = 0;
  for (const std::string& bucket : *buckets) {
    crc = raft::wal::crc32c::Extend(crc, bucket.data(), bucket.size());
    const bool key_bucket = bucket == kv::backup::kKeyBucket;
    absl::Status s =
        (*reader)->ForEach(bucket, [&](std::string_view k, std::string_view v) {
          crc = raft::wal::crc32c::Extend(crc, k.data(), k.size());
          crc = raft::wal::crc32c::Extend(crc, v.data(), v.size());
          if (key_bucket) {
            auto rev = kv::backup::DecodeRevision(k);
            if (rev.has_value()) out.revision = rev->main;
          }
          ++out.total_key;
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
  }
  out.hash = crc;
  return out;
}

int DoStatus(Context& ctx, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    ExitWithError(kExitBadArgs,
                  "snapshot status requires exactly one argument");
  }
  absl::StatusOr<DbStatus> st = ReadStatus(args[0]);
  if (!st.ok()) ExitWithError(kExitError, st.status().message());
  const std::string& w = ctx.globals().write_out;
  const std::vector<std::string> row = {
      absl::StrFormat("%x", st->hash), absl::StrCat(st->revision),
      absl::StrCat(st->total_key), HumanizeBytes(st->total_size)};
  if (w == "json") {
    std::cout << "{\"hash\":" << st->hash << ",\"revision\":" << st->revision
              << ",\"totalKey\":" << st->total_key
              << ",\"totalSize\":" << st->total_size << "}\n";
  } else if (w == "table") {
    std::cout << RenderTable({"hash", "revision", "total keys", "total size"},
                             {row});
  } else if (w == "fields") {
    std::cout << "\"Hash\" : " << st->hash
              << "\n\"Revision\" : " << st->revision
              << "\n\"Keys\" : " << st->total_key
              << "\n\"Size\" : " << st->total_size << "\n";
  } else if (w == "simple") {
    std::cout << absl::StrJoin(row, ", ") << "\n";
  } else {
    ExitWithError(kExitBadFeature,
                  absl::StrCat("printer \"", w, "\" is not supported"));
  }
  return kExitSuccess;
}

// ---------------------------------------------------------------------------
// restore

// etcd's types.NewURLs checks, with its messages.
absl::Status CheckUrl(const std::string& u) {
  const size_t scheme_end = u.find("://");
  const std::string scheme =
      scheme_end == std::string::npos ? "" : u.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https" && scheme != "unix" &&
      scheme != "unixs") {
    return absl::InvalidArgumentError(
        absl::StrCat("URL scheme must be http, https, unix, or unixs: ", u));
  }
  std::string host = u.substr(scheme_end + 3);
  if (host.find('/') != std::string::npos) {
    const std::string path = host.substr(host.find('/'));
    if (path != "/") {
      return absl::InvalidArgumentError(
          absl::StrCat("URL must not contain a path: ", u));
    }
    host = host.substr(0, host.find('/'));
  }
  const size_t colon = host.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL address does not have the form \"host:port\": ", u));
  }
  return absl::OkStatus();
}

// --initial-cluster as name -> peer URLs (a name may repeat).
absl::StatusOr<std::map<std::string, std::vector<std::string>>> ParseCluster(
    const std::string& spec) {
  std::map<std::string, std::vector<std::string>> out;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid initial-cluster entry \"", item, "\""));
    }
    if (absl::Status s = CheckUrl(kv[1]); !s.ok()) return s;
    out[kv[0]].push_back(kv[1]);
  }
  return out;
}

// The new cluster's member list, after etcd's VerifyBootstrap checks.
absl::StatusOr<kvpb::MemberList> NewMembers(const RestoreFlags& f) {
  std::vector<std::string> mine =
      absl::StrSplit(f.initial_advertise_peer_urls, ',');
  for (const auto& u : mine) {
    if (absl::Status s = CheckUrl(u); !s.ok()) return s;
  }
  auto cluster = ParseCluster(f.initial_cluster);
  if (!cluster.ok()) return cluster.status();
  auto self = cluster->find(f.name);
  if (self == cluster->end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("couldn't find local name ", Quoted(f.name),
                     " in the initial cluster configuration"));
  }
  std::vector<std::string> listed = self->second;
  std::sort(mine.begin(), mine.end());
  std::sort(listed.begin(), listed.end());
  if (mine != listed) {
    std::vector<std::string> missing;
    for (const auto& u : listed) {
      if (!std::binary_search(mine.begin(), mine.end(), u)) {
        missing.push_back(f.name + "=" + u);
      }
    }
    if (!missing.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--initial-cluster has ", absl::StrJoin(missing, ","),
                       " but missing from --initial-advertise-peer-urls=",
                       absl::StrJoin(mine, ",")));
    }
    for (const auto& u : mine) {
      if (!std::binary_search(listed.begin(), listed.end(), u)) {
        missing.push_back(u);
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "--initial-advertise-peer-urls has ", absl::StrJoin(missing, ","),
        " but missing from --initial-cluster=", f.name, "=",
        absl::StrJoin(mine, ",")));
  }
  std::set<std::string> seen;
  for (const auto& [name, urls] : *cluster) {
    for (const auto& u : urls) {
      if (!seen.insert(u).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            "initial cluster ", f.initial_cluster, " has duplicate url"));
      }
    }
  }
  kvpb::MemberList list;
  std::vector<uint64_t> ids;
  for (const auto& [name, urls] : *cluster) {
    kvpb::Member* m = list.add_members();
    m->set_id(kv::MemberIdFor(urls, f.initial_cluster_token));
    m->set_name(name);
    for (const auto& u : urls) m->add_peer_urls(u);
    ids.push_back(m->id());
  }
  list.set_cluster_id(kv::ClusterIdFor(ids, f.initial_cluster_token));
  return list;
}

// Checks the digest at the end of `path` against its first `size` bytes.
absl::Status CheckSha256(const std::string& path, uint64_t size) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(OsError("open", path));
  unsigned char want[kSha256Bytes];
  unsigned char got[kSha256Bytes];
  EVP_MD_CTX* sha = EVP_MD_CTX_new();
  EVP_DigestInit_ex(sha, EVP_sha256(), nullptr);
  std::string buf(1 << 20, '\0');
  absl::Status status;
  uint64_t off = 0;
  while (off < size && status.ok()) {
    const ssize_t n =
        pread(fd, buf.data(), std::min<uint64_t>(buf.size(), size - off), off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = absl::InternalError(OsError("read", path));
      break;
    }
    EVP_DigestUpdate(sha, buf.data(), static_cast<size_t>(n));
    off += static_cast<uint64_t>(n);
  }
  unsigned int len = 0;
  EVP_DigestFinal_ex(sha, got, &len);
  EVP_MD_CTX_free(sha);
  if (status.ok() && pread(fd, want, kSha256Bytes, size) !=
                         static_cast<ssize_t>(kSha256Bytes)) {
    status = absl::InternalError(OsError("read", path));
  }
  close(fd);
  if (!status.ok()) return status;
  if (std::memcmp(want, got, kSha256Bytes) != 0) {
    return absl::DataLossError(
        absl::StrCat("expected sha256 ", GoBytes(want, kSha256Bytes), ", got ",
                     GoBytes(got, kSha256Bytes)));
  }
  return absl::OkStatus();
}

absl::Status Restore(const std::string& file, const std::string& data_dir,
                     const kvpb::MemberList& members, bool skip_hash_check) {
  struct stat st;
  if (stat(file.c_str(), &st) != 0) {
    return absl::NotFoundError(OsError("open", file));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  const bool has_hash = HasChecksum(size);
  if (has_hash) size -= kSha256Bytes;
  if (!has_hash && !skip_hash_check) {
    return absl::FailedPreconditionError(
        "snapshot missing hash but --skip-hash-check=false");
  }
  if (has_hash && !skip_hash_check) {
    if (absl::Status s = CheckSha256(file, size); !s.ok()) return s;
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("mkdir ", data_dir, ": ", ec.message()));
  }
  auto imported =
      kv::backup::ImportEtcdSnapshot(file, size, data_dir + "/store");
  if (!imported.ok()) return imported.status();
  LogInfo("restored store",
          {{"store-dir", Quoted(data_dir + "/store")},
           {"revision", absl::StrCat(imported->revision)},
           {"compact-revision", absl::StrCat(imported->compact_revision)},
           {"key-entries", absl::StrCat(imported->key_entries)},
           {"leases", absl::StrCat(imported->leases)}});
  auto registry = kv::Members::Open(data_dir, members);
  if (!registry.ok()) return registry.status();
  return absl::OkStatus();
}

int DoRestore(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    ExitWithError(kExitBadArgs,
                  "snapshot restore requires exactly one argument");
  }
  const RestoreFlags& f = restore_flags;
  if (!f.wal_dir.empty()) {
    ExitWithError(kExitError,
                  "--wal-dir is not supported: raftkv keeps its WAL inside "
                  "--data-dir");
  }
  auto members = NewMembers(f);
  if (!members.ok()) ExitWithError(kExitError, members.status().message());
  const std::string data_dir =
      f.data_dir.empty() ? f.name + ".raftkv" : f.data_dir;
  std::error_code ec;
  if (std::filesystem::exists(data_dir, ec)) {
    ExitWithError(kExitError,
                  absl::StrCat("data-dir ", Quoted(data_dir), " exists"));
  }
  LogInfo("restoring snapshot",
          {{"path", Quoted(args[0])}, {"data-dir", Quoted(data_dir)}});
  if (absl::Status s = Restore(args[0], data_dir, *members, f.skip_hash_check);
      !s.ok()) {
    // Nothing half-built is left behind: the directory did not exist.
    std::filesystem::remove_all(data_dir, ec);
    ExitWithError(kExitError, s.message());
  }
  uint64_t local = 0;
  for (const auto& m : members->members()) {
    if (m.name() == f.name) local = m.id();
  }
  for (const auto& m : members->members()) {
    std::vector<std::string> urls;
    for (const auto& u : m.peer_urls()) urls.push_back(Quoted(u));
    LogInfo(
        "added member",
        {{"cluster-id", Quoted(absl::StrFormat("%x", members->cluster_id()))},
         {"local-member-id", Quoted(absl::StrFormat("%x", local))},
         {"added-peer-id", Quoted(absl::StrFormat("%x", m.id()))},
         {"added-peer-peer-urls",
          absl::StrCat("[", absl::StrJoin(urls, ","), "]")}});
  }
  LogInfo("restored snapshot",
          {{"path", Quoted(args[0])}, {"data-dir", Quoted(data_dir)}});
  return kExitSuccess;
}

}  // namespace

void RegisterSnapshotRestoreFlags(FlagSet& flags) {
  RestoreFlags& f = restore_flags;
  flags.String("data-dir", 0, &f.data_dir);
  flags.String("wal-dir", 0, &f.wal_dir);
  flags.String("initial-cluster", 0, &f.initial_cluster);
  flags.String("initial-cluster-token", 0, &f.initial_cluster_token);
  flags.String("initial-advertise-peer-urls", 0,
               &f.initial_advertise_peer_urls);
  flags.String("name", 0, &f.name);
  flags.Bool("skip-hash-check", 0, &f.skip_hash_check);
}

int RunSnapshotSave(Context& ctx, const std::vector<std::string>& args) {
  return DoSave(ctx, args);
}
int RunSnapshotStatus(Context& ctx, const std::vector<std::string>& args) {
  return DoStatus(ctx, args);
}
int RunSnapshotRestore(Context&, const std::vector<std::string>& args) {
  return DoRestore(args);
}

}  // namespace raftkv::ctl
