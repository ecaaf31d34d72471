// Writer: lays a bbolt file out in one sequential pass (bbolt.h, format.h).
//
// Layout. Pages 0 and 1, the metas, stay zero until Finish, so a file
// abandoned midway has no valid meta and every reader refuses it. From page 2
// on, pages are appended in the order they fill: a bucket's leaf pages as its
// keys arrive, its branch levels bottom-up at EndBucket, the root bucket's
// leaf pages whenever its entries (one per bucket) fill one; at Finish the
// root bucket's branch levels, an empty freelist page, and last the two metas
// (the same but for their page id) written at offset 0, then one fsync.
// Every page from 2 up to the high-water mark belongs to exactly one tree or
// is the freelist, which is what bbolt's tx.Check asks.
//
// Memory: the page being filled (at least one key/value, so a large value is
// held whole), a write buffer, and per tree one (first key, page id) per page
// of the level being built.
//
// Errors: a refused argument (order, size, call sequence) leaves the writer
// as it was; an I/O error is sticky and every later call returns it.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "kv/bbolt/bbolt.h"
#include "kv/bbolt/format.h"
#include "kv/status_macros.h"

namespace raftkv::kv::bbolt {
namespace {

namespace f = format;

constexpr size_t kWriteBufferBytes = size_t{1} << 20;

absl::Status PwriteAll(int fd, std::string_view data, uint64_t offset) {
  while (!data.empty()) {
    const ssize_t n = pwrite(fd, data.data(), data.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("pwrite at ", offset));
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

// Appends pages to the file, from page id 2 on, through a write buffer.
class PageSink {
 public:
  PageSink(int fd, uint32_t page_size) : fd_(fd), page_size_(page_size) {}

  uint32_t page_size() const { return page_size_; }
  // The high-water mark: the id the next page gets.
  uint64_t next_pgid() const { return next_pgid_; }

  // Writes a page of `flags` and `count` whose bytes after the header are
  // `body`, spanning as many pages as it needs; returns its id.
  absl::StatusOr<uint64_t> Append(uint16_t flags, uint16_t count,
                                  std::string_view body) {
    const uint64_t bytes = f::kPageHeaderSize + body.size();
    const uint64_t pages = (bytes + page_size_ - 1) / page_size_;
    const uint64_t id = next_pgid_;
    char header[f::kPageHeaderSize];
    f::EncodePageHeader({id, flags, count, static_cast<uint32_t>(pages - 1)},
                        header);
    buffer_.append(header, sizeof(header));
    buffer_.append(body);
    buffer_.append(pages * page_size_ - bytes, '\0');
    next_pgid_ += pages;
    if (buffer_.size() >= kWriteBufferBytes) RAFTKV_RETURN_IF_NOT_OK(Flush());
    return id;
  }

  absl::Status Flush() {
    RAFTKV_RETURN_IF_NOT_OK(
        PwriteAll(fd_, buffer_, flushed_pgid_ * page_size_));
    buffer_.clear();
    flushed_pgid_ = next_pgid_;
    return absl::OkStatus();
  }

 private:
  const int fd_;
  const uint32_t page_size_;
  uint64_t next_pgid_ = 2;
  // Invariant: buffer_ holds pages [flushed_pgid_, next_pgid_).
  uint64_t flushed_pgid_ = 2;
  std::string buffer_;
};

// The elements of one leaf or branch page being filled.
class PageBuilder {
 public:
  explicit PageBuilder(bool leaf) : leaf_(leaf) {}

  size_t count() const { return elements_.size(); }
  bool full() const { return count() >= f::kMaxPageElements; }
  // Bytes of the page, header included.
  size_t size() const {
    return f::kPageHeaderSize + count() * f::kLeafElementSize + data_.size();
  }
  // size() once an element of this key and value size is added.
  size_t SizeWith(size_t key_size, size_t value_size) const {
    return size() + f::kLeafElementSize + key_size + value_size;
  }
  // "" when empty.
  std::string_view first_key() const {
    if (elements_.empty()) return {};
    return std::string_view(data_).substr(0, elements_[0].key_size);
  }

  void AddLeaf(uint32_t flags, std::string_view key, std::string_view value) {
    elements_.push_back({flags, static_cast<uint32_t>(key.size()),
                         static_cast<uint32_t>(value.size()), 0});
    data_.append(key);
    data_.append(value);
  }
  void AddBranch(std::string_view key, uint64_t pgid) {
    elements_.push_back({0, static_cast<uint32_t>(key.size()), 0, pgid});
    data_.append(key);
  }

  // The page's bytes after its header: the element table, then each
  // element's key and value in order.
  std::string Body() const {
    const size_t table = count() * f::kLeafElementSize;
    std::string body(table, '\0');
    size_t data_offset = table;
    for (size_t i = 0; i < count(); ++i) {
      const Element& e = elements_[i];
      char* p = body.data() + i * f::kLeafElementSize;
      // pos counts from the element's own start.
      const auto pos =
          static_cast<uint32_t>(data_offset - i * f::kLeafElementSize);
      if (leaf_) {
        f::PutU32(p, e.flags);
        f::PutU32(p + 4, pos);
        f::PutU32(p + 8, e.key_size);
        f::PutU32(p + 12, e.value_size);
      } else {
        f::PutU32(p, pos);
        f::PutU32(p + 4, e.key_size);
        f::PutU64(p + 8, e.pgid);
      }
      data_offset += e.key_size + e.value_size;
    }
    body.append(data_);
    return body;
  }

  void Clear() {
    elements_.clear();
    data_.clear();
  }

 private:
  struct Element {
    uint32_t flags;
    uint32_t key_size;
    uint32_t value_size;
    uint64_t pgid;
  };
  static_assert(f::kLeafElementSize == f::kBranchElementSize);

  const bool leaf_;
  std::vector<Element> elements_;
  // Keys and values, in element order.
  std::string data_;
};

// Builds one B+tree (a bucket's, or the root bucket's) bottom-up: leaf pages
// as elements arrive, then the branch levels at Finish.
class TreeBuilder {
 public:
  explicit TreeBuilder(PageSink* sink) : sink_(sink), leaf_(true) {}

  // REQUIRES: key is non-empty, within bbolt's limits and greater than the
  // previous key.
  absl::Status Add(uint32_t flags, std::string_view key,
                   std::string_view value) {
    if (leaf_.count() > 0 &&
        (leaf_.SizeWith(key.size(), value.size()) > sink_->page_size() ||
         leaf_.full())) {
      RAFTKV_RETURN_IF_NOT_OK(FlushLeaf());
    }
    leaf_.AddLeaf(flags, key, value);
    return absl::OkStatus();
  }

  // True when no page has been written and the one leaf is small enough for
  // bbolt to keep the tree inside its parent's value (bucket.go inlineable).
  bool Inlineable() const {
    return leaves_.empty() && leaf_.size() <= sink_->page_size() / 4;
  }
  // The leaf as an inline bucket stores it: a page with id 0.
  // REQUIRES: Inlineable().
  std::string InlinePage() const {
    std::string page(f::kPageHeaderSize, '\0');
    f::EncodePageHeader(
        {0, f::kLeafPage, static_cast<uint16_t>(leaf_.count()), 0},
        page.data());
    page.append(leaf_.Body());
    return page;
  }

  // Writes the last leaf and the branch levels; returns the root's page id.
  // An empty tree is one empty leaf page.
  absl::StatusOr<uint64_t> Finish() {
    if (leaf_.count() > 0 || leaves_.empty()) {
      RAFTKV_RETURN_IF_NOT_OK(FlushLeaf());
    }
    std::vector<Child> level = std::move(leaves_);
    while (level.size() > 1) {
      absl::StatusOr<std::vector<Child>> up = WriteBranchLevel(level);
      if (!up.ok()) return up.status();
      level = *std::move(up);
    }
    return level[0].pgid;
  }

 private:
  struct Child {
    std::string first_key;
    uint64_t pgid;
  };

  // Writes `page` and records it in `level`.
  absl::Status Flush(uint16_t flags, PageBuilder& page,
                     std::vector<Child>& level) {
    absl::StatusOr<uint64_t> id =
        sink_->Append(flags, static_cast<uint16_t>(page.count()), page.Body());
    if (!id.ok()) return id.status();
    level.push_back({std::string(page.first_key()), *id});
    page.Clear();
    return absl::OkStatus();
  }
  absl::Status FlushLeaf() { return Flush(f::kLeafPage, leaf_, leaves_); }

  // Writes the branch pages over `children`; returns them as the next level.
  // A page takes at least two children (a long key makes it an overflowed
  // page instead), so each level is smaller than the one below.
  absl::StatusOr<std::vector<Child>> WriteBranchLevel(
      const std::vector<Child>& children) {
    std::vector<Child> parents;
    PageBuilder page(/*leaf=*/false);
    for (const Child& child : children) {
      if ((page.count() >= 2 &&
           page.SizeWith(child.first_key.size(), 0) > sink_->page_size()) ||
          page.full()) {
        RAFTKV_RETURN_IF_NOT_OK(Flush(f::kBranchPage, page, parents));
      }
      page.AddBranch(child.first_key, child.pgid);
    }
    RAFTKV_RETURN_IF_NOT_OK(Flush(f::kBranchPage, page, parents));
    return parents;
  }

  PageSink* const sink_;
  PageBuilder leaf_;
  // The leaf pages written so far.
  std::vector<Child> leaves_;
};

absl::Status CheckKey(std::string_view what, std::string_view key) {
  if (key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(f::Absl(what), " is empty"));
  }
  if (key.size() > f::kMaxKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat(f::Absl(what), " of ", key.size(),
                     " bytes is over bbolt's ", f::kMaxKeySize));
  }
  return absl::OkStatus();
}

class FileWriter final : public Writer {
 public:
  FileWriter(int fd, std::string path, Options options)
      : fd_(fd),
        path_(std::move(path)),
        options_(options),
        sink_(fd, options.page_size),
        root_(&sink_) {}
  ~FileWriter() override {
    if (fd_ >= 0) close(fd_);
  }

  absl::Status BeginBucket(std::string_view name) override {
    RAFTKV_RETURN_IF_NOT_OK(Usable());
    if (bucket_) return OpenBucketError();
    RAFTKV_RETURN_IF_NOT_OK(CheckKey("bucket name", name));
    if (name <= last_bucket_) {
      return absl::InvalidArgumentError(
          absl::StrCat("bucket \"", f::Escaped(name), "\" does not follow \"",
                       f::Escaped(last_bucket_), "\" in byte order"));
    }
    bucket_.emplace(&sink_);
    bucket_name_ = std::string(name);
    last_key_.clear();
    return absl::OkStatus();
  }

  absl::Status Put(std::string_view key, std::string_view value) override {
    RAFTKV_RETURN_IF_NOT_OK(Usable());
    if (!bucket_) return absl::FailedPreconditionError("Put outside a bucket");
    RAFTKV_RETURN_IF_NOT_OK(CheckKey("key", key));
    if (value.size() > f::kMaxValueSize) {
      return absl::InvalidArgumentError(absl::StrCat("value of ", value.size(),
                                                     " bytes is over bbolt's ",
                                                     f::kMaxValueSize));
    }
    if (key <= last_key_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bucket \"", f::Escaped(bucket_name_), "\": key \"", f::Escaped(key),
          "\" does not follow \"", f::Escaped(last_key_), "\" in byte order"));
    }
    RAFTKV_RETURN_IF_NOT_OK(Sticky(bucket_->Add(0, key, value)));
    last_key_ = std::string(key);
    return absl::OkStatus();
  }

  absl::Status EndBucket() override {
    RAFTKV_RETURN_IF_NOT_OK(Usable());
    if (!bucket_) {
      return absl::FailedPreconditionError("EndBucket without BeginBucket");
    }
    // The bucket header {root, sequence}; root 0 means the page follows.
    std::string value(f::kBucketHeaderSize, '\0');
    if (bucket_->Inlineable()) {
      value.append(bucket_->InlinePage());
    } else {
      absl::StatusOr<uint64_t> root = bucket_->Finish();
      if (!root.ok()) return Sticky(root.status());
      f::PutU64(value.data(), *root);
    }
    RAFTKV_RETURN_IF_NOT_OK(
        Sticky(root_.Add(f::kBucketLeaf, bucket_name_, value)));
    last_bucket_ = std::move(bucket_name_);
    bucket_.reset();
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    RAFTKV_RETURN_IF_NOT_OK(Usable());
    if (bucket_) return OpenBucketError();
    absl::Status s = WriteTail();
    if (!s.ok()) return Sticky(s);
    finished_ = true;
    return absl::OkStatus();
  }

 private:
  absl::Status Usable() const {
    if (finished_) return absl::FailedPreconditionError("writer finished");
    return error_;
  }
  absl::Status Sticky(absl::Status s) {
    if (!s.ok() && error_.ok()) {
      error_ = absl::Status(s.code(), absl::StrCat(path_, ": ", s.message()));
    }
    return s.ok() ? s : error_;
  }
  absl::Status OpenBucketError() const {
    return absl::FailedPreconditionError(absl::StrCat(
        "bucket \"", f::Escaped(bucket_name_), "\" is still open"));
  }

  // The root bucket's tree, the freelist, the metas; fsync; close.
  absl::Status WriteTail() {
    absl::StatusOr<uint64_t> root = root_.Finish();
    if (!root.ok()) return root.status();
    absl::StatusOr<uint64_t> freelist =
        sink_.Append(f::kFreelistPage, 0, std::string_view());
    if (!freelist.ok()) return freelist.status();
    RAFTKV_RETURN_IF_NOT_OK(sink_.Flush());

    f::Meta meta;
    meta.page_size = options_.page_size;
    meta.root = *root;
    meta.freelist = *freelist;
    meta.pgid = sink_.next_pgid();
    meta.txid = options_.txid;
    const uint32_t page_size = options_.page_size;
    std::string metas(2 * page_size, '\0');
    for (uint64_t id = 0; id < 2; ++id) {
      char* page = metas.data() + id * page_size;
      f::EncodePageHeader({id, f::kMetaPage, 0, 0}, page);
      f::EncodeMeta(meta, page + f::kPageHeaderSize);
    }
    RAFTKV_RETURN_IF_NOT_OK(PwriteAll(fd_, metas, 0));
    if (fsync(fd_) != 0) return absl::ErrnoToStatus(errno, "fsync");
    const int fd = fd_;
    fd_ = -1;
    if (close(fd) != 0) return absl::ErrnoToStatus(errno, "close");
    return absl::OkStatus();
  }

  int fd_;
  const std::string path_;
  const Options options_;
  PageSink sink_;
  TreeBuilder root_;
  // The open bucket, if any, and its name.
  std::optional<TreeBuilder> bucket_;
  std::string bucket_name_;
  // The last bucket ended and the last key put in the open bucket ("" for
  // none: names and keys are never empty).
  std::string last_bucket_;
  std::string last_key_;
  bool finished_ = false;
  // The first I/O error; sticky.
  absl::Status error_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Writer>> Writer::Create(const std::string& path,
                                                       Options options) {
  if (!format::ValidPageSize(options.page_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page size ", options.page_size, " is not a power of two in [",
        format::kMinPageSize, ", ", format::kMaxPageSize, "]"));
  }
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  return std::unique_ptr<Writer>(new FileWriter(fd, path, options));
}

}  // namespace raftkv::kv::bbolt
