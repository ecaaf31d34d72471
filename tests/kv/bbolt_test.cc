// kv/bbolt: the writer's files read back by the reader (round trips at
// several shapes and page sizes), the writer's refusals, and the reader on
// damaged files (DataLoss, never a crash). tests/kv/etcd_backup_test.cc
// checks the same files against real bbolt, through etcd's tools.
#include "kv/bbolt/bbolt.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/kv/file_util.h"

namespace raftkv::kv::bbolt {
namespace {

using Contents = std::map<std::string, std::map<std::string, std::string>>;

using testing::ReadAll;
using testing::WriteAll;
using TempDir = testing::TempDir;

absl::Status Write(const std::string& path, const Contents& contents,
                   uint32_t page_size = 4096) {
  Writer::Options options;
  options.page_size = page_size;
  absl::StatusOr<std::unique_ptr<Writer>> w = Writer::Create(path, options);
  if (!w.ok()) return w.status();
  for (const auto& [bucket, kvs] : contents) {
    if (absl::Status s = (*w)->BeginBucket(bucket); !s.ok()) return s;
    for (const auto& [k, v] : kvs) {
      if (absl::Status s = (*w)->Put(k, v); !s.ok()) return s;
    }
    if (absl::Status s = (*w)->EndBucket(); !s.ok()) return s;
  }
  return (*w)->Finish();
}

// Everything the reader finds, in the order it finds it (a std::map would
// hide an ordering bug, so order is checked on the way).
absl::StatusOr<Contents> Read(const std::string& path, uint64_t size = 0) {
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::Open(path, size);
  if (!r.ok()) return r.status();
  absl::StatusOr<std::vector<std::string>> buckets = (*r)->Buckets();
  if (!buckets.ok()) return buckets.status();
  Contents out;
  std::string last_bucket;
  for (const std::string& b : *buckets) {
    EXPECT_LT(last_bucket, b);
    last_bucket = b;
    auto& kvs = out[b];
    std::string last_key;
    absl::Status s =
        (*r)->ForEach(b, [&](std::string_view k, std::string_view v) {
          EXPECT_LT(last_key, k);
          last_key = std::string(k);
          kvs.emplace(std::string(k), std::string(v));
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
  }
  return out;
}

void ExpectRoundTrip(const Contents& contents, uint32_t page_size = 4096) {
  TempDir dir;
  const std::string path = dir.Path("db");
  ASSERT_TRUE(Write(path, contents, page_size).ok());
  const uint64_t size = std::filesystem::file_size(path);
  EXPECT_EQ(size % page_size, 0u);
  absl::StatusOr<Contents> got = Read(path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == contents)
      << "buckets " << got->size() << " vs " << contents.size();
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::Open(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->page_size(), page_size);
  EXPECT_EQ((*r)->txid(), 1u);
}

std::string Key(int i) { return absl::StrFormat("key%08d", i); }

TEST(BboltTest, NoBuckets) { ExpectRoundTrip({}); }

TEST(BboltTest, EmptyBuckets) {
  ExpectRoundTrip({{"a", {}}, {"b", {}}, {"members_removed", {}}});
}

TEST(BboltTest, OneKey) { ExpectRoundTrip({{"key", {{"k", "v"}}}}); }

TEST(BboltTest, EmptyValue) { ExpectRoundTrip({{"b", {{"k", ""}}}}); }

TEST(BboltTest, ManyBuckets) {
  // Enough buckets that the root bucket's own tree needs branch pages, and
  // some big enough not to be inline.
  Contents c;
  for (int i = 0; i < 3000; ++i) {
    auto& kvs = c[absl::StrFormat("bucket%05d", i)];
    for (int j = 0; j < i % 7 * (i % 50 == 0 ? 100 : 1); ++j) {
      kvs[Key(j)] = std::string(j % 13, 'v');
    }
  }
  ExpectRoundTrip(c);
}

TEST(BboltTest, HundredThousandKeys) {
  Contents c;
  auto& kvs = c["key"];
  for (int i = 0; i < 100000; ++i) kvs[Key(i)] = absl::StrFormat("value-%d", i);
  c["lease"];
  c["meta"]["consistent_index"] = std::string(8, '\1');
  ExpectRoundTrip(c);
}

TEST(BboltTest, ValuesLargerThanAPage) {
  Contents c;
  auto& kvs = c["big"];
  const std::vector<size_t> sizes = {4000,    4096, 4097, 10000, 100000,
                                     3 << 20, 1,    0,    8192};
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string v(sizes[i], '\0');
    for (size_t j = 0; j < v.size(); ++j) v[j] = static_cast<char>(j * 7 + i);
    kvs[Key(static_cast<int>(i))] = std::move(v);
  }
  c["small"]["x"] = "y";
  ExpectRoundTrip(c);
}

TEST(BboltTest, LongKeys) {
  // Keys near bbolt's limit make branch pages that overflow too.
  Contents c;
  auto& kvs = c["long"];
  for (int i = 0; i < 50; ++i) kvs[std::string(30000, 'k') + Key(i)] = "v";
  ExpectRoundTrip(c);
}

TEST(BboltTest, OtherPageSizes) {
  Contents c;
  for (int i = 0; i < 5000; ++i) c["b"][Key(i)] = std::string(i % 300, 'x');
  c["c"]["big"] = std::string(200000, 'z');
  for (uint32_t ps : {1024u, 16384u, 65536u}) {
    SCOPED_TRACE(ps);
    ExpectRoundTrip(c, ps);
  }
}

TEST(BboltTest, RandomContents) {
  std::mt19937 rng(20261203);
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    Contents c;
    const int buckets = static_cast<int>(rng() % 12);
    for (int b = 0; b < buckets; ++b) {
      auto& kvs = c[std::string(1 + rng() % 5, static_cast<char>('a' + b))];
      const int n = static_cast<int>(rng() % 3000);
      for (int i = 0; i < n; ++i) {
        std::string k(1 + rng() % 40, '\0');
        for (char& ch : k) ch = static_cast<char>(rng());
        kvs[k] = std::string(rng() % 2 ? rng() % 64 : rng() % 9000, 'v');
      }
    }
    ExpectRoundTrip(c);
  }
}

TEST(BboltTest, RefusesKeysOutOfOrder) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<Writer>> w = Writer::Create(dir.Path("db"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->BeginBucket("b").ok());
  ASSERT_TRUE((*w)->Put("b", "1").ok());
  EXPECT_TRUE(absl::IsInvalidArgument((*w)->Put("b", "2")));
  EXPECT_TRUE(absl::IsInvalidArgument((*w)->Put("a", "2")));
  EXPECT_TRUE(absl::IsInvalidArgument((*w)->Put("", "2")));
  EXPECT_TRUE(absl::IsInvalidArgument((*w)->Put(std::string(32769, 'z'), "")));
  // A refusal leaves the writer usable.
  ASSERT_TRUE((*w)->Put("c", "3").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition((*w)->BeginBucket("c")));
  EXPECT_TRUE(absl::IsFailedPrecondition((*w)->Finish()));
  ASSERT_TRUE((*w)->EndBucket().ok());
  EXPECT_TRUE(absl::IsInvalidArgument((*w)->BeginBucket("b")));
  EXPECT_TRUE(absl::IsInvalidArgument((*w)->BeginBucket("a")));
  EXPECT_TRUE(absl::IsInvalidArgument((*w)->BeginBucket("")));
  EXPECT_TRUE(absl::IsFailedPrecondition((*w)->Put("x", "y")));
  EXPECT_TRUE(absl::IsFailedPrecondition((*w)->EndBucket()));
  ASSERT_TRUE((*w)->BeginBucket("ba").ok());
  ASSERT_TRUE((*w)->EndBucket().ok());
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_TRUE(absl::IsFailedPrecondition((*w)->BeginBucket("z")));

  absl::StatusOr<Contents> got = Read(dir.Path("db"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == (Contents{{"b", {{"b", "1"}, {"c", "3"}}}, {"ba", {}}}));
}

TEST(BboltTest, RefusesBadPageSize) {
  TempDir dir;
  Writer::Options options;
  options.page_size = 3000;
  EXPECT_TRUE(absl::IsInvalidArgument(
      Writer::Create(dir.Path("db"), options).status()));
}

TEST(BboltTest, NotFoundBucket) {
  TempDir dir;
  ASSERT_TRUE(Write(dir.Path("db"), {{"a", {{"k", "v"}}}}).ok());
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::Open(dir.Path("db"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(absl::IsNotFound((*r)->ForEach(
      "b",
      [](std::string_view, std::string_view) { return absl::OkStatus(); })));
  // fn's error stops the walk and comes back.
  int calls = 0;
  absl::Status s = (*r)->ForEach("a", [&](std::string_view, std::string_view) {
    ++calls;
    return absl::AbortedError("stop");
  });
  EXPECT_TRUE(absl::IsAborted(s));
  EXPECT_EQ(calls, 1);
}

TEST(BboltTest, TrailingBytesWithSize) {
  // A snapshot file: the database, then its SHA-256.
  TempDir dir;
  const Contents c = {{"key", {{"a", "1"}}}};
  ASSERT_TRUE(Write(dir.Path("db"), c).ok());
  std::string bytes = ReadAll(dir.Path("db"));
  const uint64_t size = bytes.size();
  bytes.append(32, '\x5a');
  WriteAll(dir.Path("db"), bytes);
  absl::StatusOr<Contents> got = Read(dir.Path("db"), size);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == c);
  EXPECT_TRUE(absl::IsDataLoss(Read(dir.Path("db"), size + 4096).status()));
}

class BboltCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3000; ++i) {
      contents_["key"][Key(i)] = std::string(i % 100, 'v');
    }
    contents_["big"]["x"] = std::string(20000, 'b');
    contents_["small"]["y"] = "z";
    ASSERT_TRUE(Write(dir_.Path("good"), contents_).ok());
    good_ = ReadAll(dir_.Path("good"));
  }
  absl::StatusOr<Contents> ReadBytes(const std::string& bytes) {
    WriteAll(dir_.Path("bad"), bytes);
    return Read(dir_.Path("bad"));
  }

  TempDir dir_;
  Contents contents_;
  std::string good_;
};

TEST_F(BboltCorruptionTest, OneDamagedMetaFallsBackToTheOther) {
  for (size_t offset : {size_t{16}, size_t{16 + 20}, size_t{16 + 63}}) {
    for (size_t page : {0, 1}) {
      std::string bad = good_;
      bad[page * 4096 + offset] ^= 0x40;
      absl::StatusOr<Contents> got = ReadBytes(bad);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(*got == contents_);
    }
  }
}

TEST_F(BboltCorruptionTest, BothMetasDamagedIsDataLoss) {
  std::string bad = good_;
  bad[16 + 40] ^= 1;
  bad[4096 + 16 + 40] ^= 1;
  absl::Status s = ReadBytes(bad).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("offset 0"), std::string::npos) << s;
}

TEST_F(BboltCorruptionTest, TruncatedIsDataLoss) {
  for (size_t size :
       {size_t{0}, size_t{10}, size_t{4096}, size_t{8192 + 100},
        good_.size() / 2, good_.size() - 4096, good_.size() - 1}) {
    SCOPED_TRACE(size);
    absl::Status s = ReadBytes(good_.substr(0, size)).status();
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  }
}

TEST_F(BboltCorruptionTest, DamagedPagesNeverCrash) {
  // Flipped bytes anywhere past the metas: the reader may still succeed
  // (page contents carry no checksum) but must not read out of bounds;
  // run under ASan for the full claim.
  std::mt19937 rng(7);
  const size_t pages = good_.size() / 4096;
  int data_loss = 0;
  for (int round = 0; round < 400; ++round) {
    std::string bad = good_;
    const int flips = 1 + static_cast<int>(rng() % 8);
    // Most flips hit page headers and element tables, where they matter.
    for (int i = 0; i < flips; ++i) {
      const size_t page = 2 + rng() % (pages - 2);
      const size_t at =
          page * 4096 + (rng() % 4 == 0 ? rng() % 4096 : rng() % 80);
      bad[at] = static_cast<char>(rng());
    }
    absl::Status s = ReadBytes(bad).status();
    EXPECT_TRUE(s.ok() || absl::IsDataLoss(s) || absl::IsNotFound(s)) << s;
    if (absl::IsDataLoss(s)) ++data_loss;
  }
  EXPECT_GT(data_loss, 0);
}

TEST_F(BboltCorruptionTest, AbandonedWriterLeavesNoValidMeta) {
  TempDir dir;
  {
    absl::StatusOr<std::unique_ptr<Writer>> w = Writer::Create(dir.Path("db"));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->BeginBucket("b").ok());
    for (int i = 0; i < 100000; ++i) {
      ASSERT_TRUE((*w)->Put(Key(i), "value").ok());
    }
  }
  EXPECT_TRUE(absl::IsDataLoss(Read(dir.Path("db")).status()));
}

}  // namespace
}  // namespace raftkv::kv::bbolt
