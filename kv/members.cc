#include "kv/members.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "openssl/sha.h"

namespace raftkv::kv {
namespace {

// etcd's ID rule: the first 8 bytes of a SHA-1, read big-endian.
uint64_t Sha1Id(const std::string& bytes) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
       digest);
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id = (id << 8) | digest[i];
  return id == 0 ? 1 : id;  // 0 means "none" everywhere
}

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteFileDurably(const std::string& path,
                              const std::string& data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  const bool ok = ::write(fd, data.data(), data.size()) ==
                      static_cast<ssize_t>(data.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return ErrnoError("cannot write", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoError("cannot rename to", path);
  }
  const std::string dir = path.substr(0, path.find_last_of('/'));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd < 0) return ErrnoError("cannot open directory", dir);
  const bool synced = ::fsync(dfd) == 0;
  ::close(dfd);
  if (!synced) return ErrnoError("cannot sync directory", dir);
  return absl::OkStatus();
}

}  // namespace

uint64_t MemberIdFor(const std::vector<std::string>& peer_urls,
                     const std::string& cluster_token) {
  std::vector<std::string> urls = peer_urls;
  std::sort(urls.begin(), urls.end());
  std::string key;
  for (const auto& u : urls) key += u;
  key += cluster_token;
  return Sha1Id(key);
}

uint64_t ClusterIdFor(const std::vector<uint64_t>& member_ids,
                      const std::string& /*cluster_token*/) {
  std::vector<uint64_t> ids = member_ids;
  std::sort(ids.begin(), ids.end());
  std::string key;
  for (uint64_t id : ids) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      key.push_back(static_cast<char>((id >> shift) & 0xff));
    }
  }
  return Sha1Id(key);
}

absl::StatusOr<std::unique_ptr<Members>> Members::Open(
    const std::string& dir, const kvpb::MemberList& initial) {
  std::unique_ptr<Members> m(new Members(dir + "/members.pb"));
  absl::MutexLock l(&m->mu_);
  std::ifstream in(m->path_, std::ios::binary);
  if (in) {
    std::stringstream buf;
    buf << in.rdbuf();
    if (!m->list_.ParseFromString(buf.str())) {
      return absl::DataLossError(
          absl::StrCat("raftkv: cannot parse ", m->path_));
    }
    return m;
  }
  m->list_ = initial;
  if (absl::Status s = m->Persist(); !s.ok()) return s;
  return m;
}

kvpb::MemberList Members::List() const {
  absl::MutexLock l(&mu_);
  return list_;
}

uint64_t Members::cluster_id() const {
  absl::MutexLock l(&mu_);
  return list_.cluster_id();
}

bool Members::Contains(uint64_t id) const {
  absl::MutexLock l(&mu_);
  for (const auto& m : list_.members()) {
    if (m.id() == id) return true;
  }
  return false;
}

absl::Status Members::Upsert(const kvpb::Member& member) {
  absl::MutexLock l(&mu_);
  for (auto& m : *list_.mutable_members()) {
    if (m.id() != member.id()) continue;
    kvpb::Member merged = member;
    if (merged.client_urls().empty()) {
      *merged.mutable_client_urls() = m.client_urls();
    }
    if (merged.name().empty()) merged.set_name(m.name());
    m = std::move(merged);
    return Persist();
  }
  *list_.add_members() = member;
  return Persist();
}

absl::Status Members::Remove(uint64_t id) {
  absl::MutexLock l(&mu_);
  auto* members = list_.mutable_members();
  for (int i = 0; i < members->size(); ++i) {
    if (members->Get(i).id() == id) {
      members->DeleteSubrange(i, 1);
      return Persist();
    }
  }
  return absl::OkStatus();
}

absl::Status Members::Publish(const kvpb::Member& attributes) {
  absl::MutexLock l(&mu_);
  for (auto& m : *list_.mutable_members()) {
    if (m.id() != attributes.id()) continue;
    if (m.name() == attributes.name() &&
        std::equal(m.client_urls().begin(), m.client_urls().end(),
                   attributes.client_urls().begin(),
                   attributes.client_urls().end())) {
      return absl::OkStatus();
    }
    m.set_name(attributes.name());
    *m.mutable_client_urls() = attributes.client_urls();
    return Persist();
  }
  return absl::OkStatus();  // removed meanwhile: nothing to record
}

absl::Status Members::Reload() {
  std::ifstream in(path_, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  kvpb::MemberList list;
  if (!in || !list.ParseFromString(buf.str())) {
    return absl::DataLossError(absl::StrCat("raftkv: cannot parse ", path_));
  }
  absl::MutexLock l(&mu_);
  list_ = std::move(list);
  return absl::OkStatus();
}

absl::Status Members::Persist() {
  return WriteFileDurably(path_, list_.SerializeAsString());
}

}  // namespace raftkv::kv
