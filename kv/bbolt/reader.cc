// Reader: reads a bbolt file with pread, trusting nothing it reads
// (bbolt.h, format.h).
//
// Every page id, element offset and length read from the file is checked
// against the file before it is used, and any inconsistency is DataLoss
// naming the byte offset, never an out-of-bounds read: a file may be
// truncated, bit-flipped or crafted. Beyond bounds, the reader checks what
// makes a walk terminate and its output well formed: page types (a tree
// holds only branch and leaf pages, an inline bucket only a leaf), page ids
// (a page's header names itself; trees never reach the metas or past the
// high-water mark), keys strictly increasing across each tree, a depth
// limit, and at most `pgid` page visits per walk (a valid tree visits each
// of its pages once, so more means a cycle or a page shared by two parents).
//
// Memory: the pages on the path from a tree's root to the current leaf (a
// page with overflow is read whole), and the previous key.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kv/bbolt/bbolt.h"
#include "kv/bbolt/format.h"
#include "kv/status_macros.h"

namespace raftkv::kv::bbolt {
namespace {

namespace f = format;

// bbolt's trees are a handful of levels deep (a level multiplies the pages
// by at least two); deeper is a crafted file.
constexpr int kMaxDepth = 64;

// One tree: either rooted at a page, or an inline bucket's page held in
// its parent's value.
struct Tree {
  uint64_t root = 0;           // 0: inline
  std::string inline_page;     // the whole inline page, header included
  uint64_t inline_offset = 0;  // where the inline page sits in the file
};

// A page read from the file (or an inline page), with where it came from
// for error messages.
struct Page {
  uint64_t id = 0;
  uint64_t offset = 0;  // file offset of byte 0 of `bytes`
  f::PageHeader header;
  std::string bytes;  // header included
};

using Visitor =
    std::function<absl::Status(uint32_t flags, std::string_view key,
                               std::string_view value, uint64_t offset)>;

class FileReader final : public Reader {
 public:
  // REQUIRES: `meta` passed MetaProblem() for the file's size.
  FileReader(int fd, std::string path, const f::Meta& meta)
      : fd_(fd), path_(std::move(path)), meta_(meta) {}
  ~FileReader() override { close(fd_); }

  uint32_t page_size() const override { return meta_.page_size; }
  uint64_t txid() const override { return meta_.txid; }

  absl::StatusOr<std::vector<std::string>> Buckets() override {
    std::vector<std::string> names;
    RAFTKV_RETURN_IF_NOT_OK(Walk(
        RootTree(),
        [&](uint32_t flags, std::string_view key, std::string_view, uint64_t) {
          if ((flags & f::kBucketLeaf) != 0) names.emplace_back(key);
          return absl::OkStatus();
        }));
    return names;
  }

  absl::Status ForEach(
      std::string_view bucket,
      const std::function<absl::Status(std::string_view, std::string_view)>& fn)
      override {
    absl::StatusOr<Tree> tree = FindBucket(bucket);
    if (!tree.ok()) return tree.status();
    return Walk(*tree, [&](uint32_t flags, std::string_view key,
                           std::string_view value, uint64_t) {
      if ((flags & f::kBucketLeaf) != 0) return absl::OkStatus();
      return fn(key, value);
    });
  }

 private:
  Tree RootTree() const { return Tree{meta_.root, "", 0}; }

  absl::Status Corrupt(uint64_t offset, std::string_view what) const {
    return absl::DataLossError(absl::StrCat("bbolt: ", path_, ": at offset ",
                                            offset, ": ", f::Absl(what)));
  }

  // Reads `n` bytes at `offset`. REQUIRES: offset + n <= size_.
  absl::Status ReadAt(uint64_t offset, size_t n, std::string* out) const {
    out->resize(n);
    size_t done = 0;
    while (done < n) {
      const ssize_t r = pread(fd_, out->data() + done, n - done,
                              static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        return absl::ErrnoToStatus(
            errno,
            absl::StrCat("bbolt: ", path_, ": pread at ", offset + done));
      }
      if (r == 0) return Corrupt(offset + done, "file ends early (shrunk?)");
      done += static_cast<size_t>(r);
    }
    return absl::OkStatus();
  }

  // Page `id` of a tree, overflow included.
  absl::StatusOr<Page> ReadPage(uint64_t id, uint64_t referrer) const {
    const uint64_t ps = meta_.page_size;
    if (id < 2 || id >= meta_.pgid) {
      return Corrupt(referrer,
                     absl::StrCat("page id ", id, " is outside the trees' [2, ",
                                  meta_.pgid, ")"));
    }
    Page page;
    page.id = id;
    page.offset = id * ps;
    RAFTKV_RETURN_IF_NOT_OK(ReadAt(page.offset, ps, &page.bytes));
    page.header = f::DecodePageHeader(page.bytes.data());
    if (page.header.id != id) {
      return Corrupt(page.offset, absl::StrCat("page ", id, " says it is page ",
                                               page.header.id));
    }
    const uint64_t span = uint64_t{page.header.overflow} + 1;
    if (span > meta_.pgid - id) {
      return Corrupt(
          page.offset,
          absl::StrCat("page ", id, " overflows ", page.header.overflow,
                       " pages past the high-water mark ", meta_.pgid));
    }
    if (span > 1) {
      std::string rest;
      RAFTKV_RETURN_IF_NOT_OK(ReadAt(page.offset + ps, (span - 1) * ps, &rest));
      page.bytes.append(rest);
    }
    return page;
  }

  // The tree of top-level bucket `name`.
  absl::StatusOr<Tree> FindBucket(std::string_view name) {
    std::optional<Tree> found;
    absl::Status s =
        Walk(RootTree(), [&](uint32_t flags, std::string_view key,
                             std::string_view value, uint64_t offset) {
          if (key != name || (flags & f::kBucketLeaf) == 0) {
            return absl::OkStatus();
          }
          if (value.size() < f::kBucketHeaderSize) {
            return Corrupt(offset, absl::StrCat("bucket header of ",
                                                value.size(), " bytes"));
          }
          Tree tree;
          tree.root = f::GetU64(value.data());
          if (tree.root == 0) {
            tree.inline_page = std::string(value.substr(f::kBucketHeaderSize));
            tree.inline_offset = offset + f::kBucketHeaderSize;
          }
          found = std::move(tree);
          // Stop early: nothing else is needed from the root tree.
          return absl::CancelledError();
        });
    if (found.has_value()) return *std::move(found);
    if (!s.ok()) return s;
    return absl::NotFoundError(absl::StrCat("bbolt: ", path_, ": no bucket \"",
                                            f::Escaped(name), "\""));
  }

  // Checks a leaf or branch page's element table and returns its elements'
  // location. `bytes` is the whole page, header included.
  absl::Status CheckTable(const Page& page, bool leaf) const {
    const uint64_t table =
        f::kPageHeaderSize + uint64_t{page.header.count} * f::kLeafElementSize;
    if (table > page.bytes.size()) {
      return Corrupt(
          page.offset,
          absl::StrCat(leaf ? "leaf" : "branch", " page of ", page.bytes.size(),
                       " bytes cannot hold ", page.header.count, " elements"));
    }
    return absl::OkStatus();
  }

  // Element i's key (and, for a leaf, value), bounds-checked.
  absl::Status Element(const Page& page, bool leaf, uint16_t i, uint32_t* flags,
                       std::string_view* key, std::string_view* value,
                       uint64_t* child) const {
    const size_t at = f::kPageHeaderSize + size_t{i} * f::kLeafElementSize;
    const char* e = page.bytes.data() + at;
    uint64_t pos, ksize, vsize = 0;
    if (leaf) {
      *flags = f::GetU32(e);
      pos = f::GetU32(e + 4);
      ksize = f::GetU32(e + 8);
      vsize = f::GetU32(e + 12);
    } else {
      *flags = 0;
      pos = f::GetU32(e);
      ksize = f::GetU32(e + 4);
      *child = f::GetU64(e + 8);
    }
    const uint64_t start = at + pos;
    if (start + ksize + vsize > page.bytes.size()) {
      return Corrupt(
          page.offset + at,
          absl::StrFormat("element %d of page %d (pos %d, key %d "
                          "bytes, value %d bytes) runs past the "
                          "page's %d bytes",
                          i, page.id, pos, ksize, vsize, page.bytes.size()));
    }
    *key = std::string_view(page.bytes).substr(start, ksize);
    *value = std::string_view(page.bytes).substr(start + ksize, vsize);
    return absl::OkStatus();
  }

  // Calls `visit` for every leaf element of `tree` in order; stops at its
  // first error (a CancelledError from `visit` ends the walk and is
  // returned as is).
  absl::Status Walk(const Tree& tree, const Visitor& visit) const {
    std::string last_key;
    bool have_last = false;
    uint64_t visits = 0;
    // The path from the root: each branch page and its next element.
    struct Frame {
      Page page;
      uint16_t next = 0;
    };
    std::vector<Frame> path;

    // Pushes (or, for a leaf, visits) one page.
    auto enter = [&](Page page) -> absl::Status {
      const bool leaf = (page.header.flags & f::kLeafPage) != 0;
      const bool branch = (page.header.flags & f::kBranchPage) != 0;
      if (leaf == branch) {
        return Corrupt(page.offset,
                       absl::StrFormat("page %d has flags 0x%x, neither a "
                                       "branch nor a leaf",
                                       page.id, page.header.flags));
      }
      if (tree.root == 0 && !leaf) {
        return Corrupt(page.offset, "an inline bucket's page is not a leaf");
      }
      RAFTKV_RETURN_IF_NOT_OK(CheckTable(page, leaf));
      if (branch) {
        if (page.header.count == 0) {
          return Corrupt(page.offset,
                         absl::StrCat("branch page ", page.id, " is empty"));
        }
        if (path.size() >= kMaxDepth) {
          return Corrupt(page.offset, "tree deeper than 64 levels");
        }
        path.push_back(Frame{std::move(page), 0});
        return absl::OkStatus();
      }
      for (uint16_t i = 0; i < page.header.count; ++i) {
        uint32_t flags;
        std::string_view key, value;
        uint64_t unused;
        RAFTKV_RETURN_IF_NOT_OK(
            Element(page, true, i, &flags, &key, &value, &unused));
        const uint64_t at = page.offset + f::kPageHeaderSize +
                            uint64_t{i} * f::kLeafElementSize;
        if (have_last && key <= last_key) {
          return Corrupt(at, absl::StrCat("key \"", f::Escaped(key),
                                          "\" does not follow \"",
                                          f::Escaped(last_key), "\""));
        }
        last_key.assign(key);
        have_last = true;
        RAFTKV_RETURN_IF_NOT_OK(visit(flags, key, value, at));
      }
      return absl::OkStatus();
    };

    if (tree.root == 0) {
      Page page;
      page.offset = tree.inline_offset;
      page.bytes = tree.inline_page;
      if (page.bytes.size() < f::kPageHeaderSize) {
        return Corrupt(page.offset, absl::StrCat("inline bucket page of ",
                                                 page.bytes.size(), " bytes"));
      }
      page.header = f::DecodePageHeader(page.bytes.data());
      return enter(std::move(page));
    }
    absl::StatusOr<Page> root = ReadPage(tree.root, 0);
    if (!root.ok()) return root.status();
    ++visits;
    RAFTKV_RETURN_IF_NOT_OK(enter(*std::move(root)));
    while (!path.empty()) {
      Frame& top = path.back();
      if (top.next == top.page.header.count) {
        path.pop_back();
        continue;
      }
      uint32_t flags;
      std::string_view key, value;
      uint64_t child = 0;
      const uint16_t i = top.next++;
      RAFTKV_RETURN_IF_NOT_OK(
          Element(top.page, false, i, &flags, &key, &value, &child));
      const uint64_t at = top.page.offset + f::kPageHeaderSize +
                          uint64_t{i} * f::kBranchElementSize;
      if (++visits > meta_.pgid) {
        return Corrupt(
            at, absl::StrCat("more page visits than the file's ", meta_.pgid,
                             " pages: a cycle or a shared page"));
      }
      absl::StatusOr<Page> page = ReadPage(child, at);
      if (!page.ok()) return page.status();
      RAFTKV_RETURN_IF_NOT_OK(enter(*std::move(page)));
    }
    return absl::OkStatus();
  }

  const int fd_;
  const std::string path_;
  // The meta in use: valid, and its pages within the bytes read.
  const f::Meta meta_;
};

// Why the meta at `offset` cannot be used ("" if it can).
std::string MetaProblem(const f::Meta& m, uint64_t expected_page_size,
                        uint64_t file_size) {
  if (m.magic != f::kMagic) return absl::StrFormat("bad magic 0x%08x", m.magic);
  if (m.version != f::kVersion) {
    return absl::StrCat("version ", m.version, ", not ", f::kVersion);
  }
  if (expected_page_size != 0 && m.page_size != expected_page_size) {
    return absl::StrCat("page size ", m.page_size, " where ",
                        expected_page_size, " was expected");
  }
  if (!f::ValidPageSize(m.page_size)) {
    return absl::StrCat("unsupported page size ", m.page_size);
  }
  const uint64_t ps = m.page_size;
  if (m.pgid < 3 || m.pgid > file_size / ps) {
    return absl::StrCat("high-water mark of ", m.pgid, " pages of ", ps,
                        " bytes in a file of ", file_size, " bytes");
  }
  if (m.root < 2 || m.root >= m.pgid) {
    return absl::StrCat("root bucket page ", m.root, " outside the trees' [2, ",
                        m.pgid, ")");
  }
  if (m.freelist != f::kNoFreelist &&
      (m.freelist < 2 || m.freelist >= m.pgid)) {
    return absl::StrCat("freelist page ", m.freelist, " outside [2, ", m.pgid,
                        ")");
  }
  return "";
}

absl::StatusOr<f::Meta> ReadMeta(int fd, uint64_t offset, uint64_t file_size,
                                 uint64_t expected_page_size,
                                 std::string* problem) {
  if (offset + f::kPageHeaderSize + f::kMetaSize > file_size) {
    *problem = "past the end of the file";
    return absl::NotFoundError("");
  }
  char buf[f::kPageHeaderSize + f::kMetaSize];
  size_t done = 0;
  while (done < sizeof(buf)) {
    const ssize_t r = pread(fd, buf + done, sizeof(buf) - done,
                            static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return absl::ErrnoToStatus(errno, "pread");
    if (r == 0) {
      *problem = "past the end of the file";
      return absl::NotFoundError("");
    }
    done += static_cast<size_t>(r);
  }
  const char* m = buf + f::kPageHeaderSize;
  const f::Meta meta = f::DecodeMeta(m);
  const uint64_t sum = f::Fnv1a64(std::string_view(m, f::kMetaChecksummed));
  if (meta.checksum != sum) {
    *problem =
        absl::StrFormat("checksum %016x, computed %016x", meta.checksum, sum);
    return absl::NotFoundError("");
  }
  *problem = MetaProblem(meta, expected_page_size, file_size);
  if (!problem->empty()) return absl::NotFoundError("");
  return meta;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Reader>> Reader::Open(const std::string& path,
                                                     uint64_t size) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("fstat ", path));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (size == 0) size = file_size;
  if (size > file_size) {
    close(fd);
    return absl::DataLossError(
        absl::StrCat("bbolt: ", path, ": at offset ", file_size,
                     ": the file ends before the expected ", size, " bytes"));
  }

  // Meta 0 names the page size, which places meta 1; if meta 0 is damaged,
  // meta 1 is looked for at every page size this package supports.
  std::string problem0, problem1;
  absl::StatusOr<f::Meta> meta0 = ReadMeta(fd, 0, size, 0, &problem0);
  std::optional<f::Meta> best;
  if (meta0.ok()) {
    best = *meta0;
    absl::StatusOr<f::Meta> meta1 =
        ReadMeta(fd, meta0->page_size, size, meta0->page_size, &problem1);
    if (meta1.ok() && meta1->txid > best->txid) best = *meta1;
    if (!meta1.ok() && !absl::IsNotFound(meta1.status())) {
      close(fd);
      return meta1.status();
    }
  } else if (absl::IsNotFound(meta0.status())) {
    problem1 = "not found at any page size";
    for (uint64_t ps = f::kMinPageSize; ps <= f::kMaxPageSize; ps *= 2) {
      std::string why;
      absl::StatusOr<f::Meta> meta1 = ReadMeta(fd, ps, size, ps, &why);
      if (meta1.ok()) {
        best = *meta1;
        break;
      }
    }
  } else {
    close(fd);
    return meta0.status();
  }
  if (!best.has_value()) {
    close(fd);
    return absl::DataLossError(absl::StrCat(
        "bbolt: ", path, ": no valid meta page: at offset 0: ", problem0,
        "; meta page 1: ", problem1));
  }

  // The freelist page, if stored, must be one (bbolt panics otherwise).
  if (best->freelist != f::kNoFreelist) {
    const uint64_t offset = best->freelist * best->page_size;
    char header[f::kPageHeaderSize];
    if (pread(fd, header, sizeof(header), static_cast<off_t>(offset)) !=
        static_cast<ssize_t>(sizeof(header))) {
      close(fd);
      return absl::DataLossError(absl::StrCat("bbolt: ", path, ": at offset ",
                                              offset, ": freelist unreadable"));
    }
    const f::PageHeader h = f::DecodePageHeader(header);
    if ((h.flags & f::kFreelistPage) == 0 || h.id != best->freelist) {
      close(fd);
      return absl::DataLossError(absl::StrFormat(
          "bbolt: %s: at offset %d: page %d is not the freelist (id %d, "
          "flags 0x%x)",
          path, offset, best->freelist, h.id, h.flags));
    }
  }
  return std::unique_ptr<Reader>(new FileReader(fd, path, *best));
}

}  // namespace raftkv::kv::bbolt
