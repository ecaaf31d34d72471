// The snapshot stream (kv/snapshot_copy.h) between a store and a staging
// copy. The peer transport cuts the stream into pieces of at most 1 MiB
// wherever it likes, so records span pieces: a copy fed in such pieces, or in
// tiny ones, must equal the source. Before the sink parsed across pieces,
// every snapshot above 1 MiB was refused ("snapshot stream corrupt at byte
// ~1048576") and a member that needed one never caught up (jepsen long10b,
// 2026-11-26).
#include "kv/snapshot_copy.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kv/mvcc_store.h"

namespace raftkv::kv {
namespace {

class SnapshotCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/snapshot_copy_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto opened = MvccStore::Open(dir_ + "/src", MvccOptions());
    ASSERT_TRUE(opened.ok()) << opened.status();
    src_ = *std::move(opened);
    // ~3 MiB: 3,000 keys of 1 KiB, in 30 revisions of 100 puts.
    uint64_t index = 0;
    for (int batch = 0; batch < 30; ++batch) {
      std::vector<etcdserverpb::PutRequest> puts(100);
      std::vector<ApplyCommand> cmds;
      for (int i = 0; i < 100; ++i) {
        puts[i].set_key(absl::StrCat("key/", batch * 100 + i));
        puts[i].set_value(std::string(1024, static_cast<char>('a' + i % 26)));
        cmds.push_back(ApplyCommand{++index, &puts[i]});
      }
      auto results = src_->Apply(cmds);
      ASSERT_TRUE(results.ok()) << results.status();
    }
    members_.set_cluster_id(42);
    members_.add_members()->set_name("m1");
  }
  void TearDown() override {
    src_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Stream() {
    auto source = NewSnapshotSource(src_, members_);
    std::string all, chunk;
    for (;;) {
      auto more = source->Next(&chunk);
      EXPECT_TRUE(more.ok()) << more.status();
      if (!more.ok() || !*more) break;
      all += chunk;
    }
    return all;
  }

  // Feeds `stream` to a new sink in pieces of `piece` bytes; the status of
  // the first failing Write, else of Finish.
  absl::Status Copy(const std::string& stream, size_t piece) {
    std::filesystem::remove_all(dir_ + "/dst");
    auto sink = NewSnapshotSink(dir_ + "/dst", dir_ + "/members.pb");
    if (!sink.ok()) return sink.status();
    for (size_t at = 0; at < stream.size(); at += piece) {
      absl::Status s = (*sink)->Write(stream.substr(at, piece));
      if (!s.ok()) return s;
    }
    return (*sink)->Finish();
  }

  void ExpectCopyEqualsSource() {
    auto dst = MvccStore::Open(dir_ + "/dst", MvccOptions());
    ASSERT_TRUE(dst.ok()) << dst.status();
    EXPECT_EQ((*dst)->revision(), src_->revision());
    EXPECT_EQ((*dst)->applied_index(), src_->applied_index());
    etcdserverpb::RangeRequest all;
    all.set_key("\0", 1);
    all.set_range_end("\0", 1);
    auto want = src_->Range(all);
    auto got = (*dst)->Range(all);
    ASSERT_TRUE(want.ok() && got.ok());
    ASSERT_EQ(got->kvs_size(), 3000);
    for (int i = 0; i < got->kvs_size(); ++i) {
      ASSERT_EQ(got->kvs(i).SerializeAsString(),
                want->kvs(i).SerializeAsString())
          << "key " << i;
    }
    std::ifstream in(dir_ + "/members.pb", std::ios::binary);
    std::stringstream members;
    members << in.rdbuf();
    EXPECT_EQ(members.str(), members_.SerializeAsString());
  }

  std::string dir_;
  std::shared_ptr<MvccStore> src_;
  kvpb::MemberList members_;
};

TEST_F(SnapshotCopyTest, PiecesOfTheTransportsSizeCutRecords) {
  const std::string stream = Stream();
  ASSERT_GT(stream.size(), 3u << 20);
  ASSERT_TRUE(Copy(stream, 1 << 20).ok());
  ExpectCopyEqualsSource();
}

TEST_F(SnapshotCopyTest, TinyPieces) {
  const std::string stream = Stream();
  ASSERT_TRUE(Copy(stream, 7).ok());
  ExpectCopyEqualsSource();
}

TEST_F(SnapshotCopyTest, StreamEndingInsideARecordIsRefused) {
  std::string stream = Stream();
  stream.resize(stream.size() - 3);
  const absl::Status s = Copy(stream, 1 << 20);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("ends inside a record"), std::string::npos) << s;
}

TEST_F(SnapshotCopyTest, ImpossibleLengthIsRefused) {
  std::string stream = Stream();
  stream[0] = stream[1] = stream[2] = stream[3] = '\xff';  // key length
  const absl::Status s = Copy(stream, 1 << 20);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("corrupt at byte 0"), std::string::npos) << s;
}

}  // namespace
}  // namespace raftkv::kv
