// History format: parsing, round trip, errors.
#include "jepsen/checker/history.h"

#include "gtest/gtest.h"

namespace raftkv::jepsen {
namespace {

TEST(History, ParsesAllValueShapes) {
  auto h = ParseHistory(
      "{\"process\":1,\"f\":\"read\",\"key\":\"r1\",\"value\":null,"
      "\"type\":\"ok\",\"start\":5,\"end\":9,\"node\":\"n1\",\"x\":{\"a\":[1]}}"
      "\n"
      "\n"
      "{\"process\":2,\"f\":\"cas\",\"key\":\"r1\",\"value\":[1,-2],"
      "\"type\":\"info\",\"start\":6,\"end\":10,\"error\":\"timeout\"}\n"
      "{\"process\":3,\"f\":\"write\",\"key\":\"r1\",\"value\":7,"
      "\"type\":\"fail\",\"start\":7,\"end\":8}\n");
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_EQ(h->size(), 3u);
  EXPECT_FALSE((*h)[0].has_value);
  EXPECT_EQ((*h)[1].value, (std::vector<int64_t>{1, -2}));
  EXPECT_TRUE((*h)[1].is_list);
  EXPECT_EQ((*h)[1].type, OpType::kInfo);
  EXPECT_EQ((*h)[1].line, 3);
  EXPECT_EQ((*h)[2].scalar(), 7);
  EXPECT_EQ((*h)[2].type, OpType::kFail);
}

TEST(History, RoundTrips) {
  auto op = ParseOp(
      "{\"process\":4,\"f\":\"read\",\"key\":\"b\",\"value\":[3,4,5],"
      "\"type\":\"ok\",\"start\":1,\"end\":2}");
  ASSERT_TRUE(op.ok());
  auto again = ParseOp(FormatOp(*op));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(FormatOp(*again), FormatOp(*op));
}

TEST(History, RejectsBadLines) {
  EXPECT_FALSE(ParseOp("not json").ok());
  EXPECT_FALSE(ParseOp("{\"f\":\"read\"}").ok());  // no type
  EXPECT_FALSE(ParseOp("{\"f\":\"read\",\"type\":\"maybe\"}").ok());
  EXPECT_FALSE(
      ParseOp("{\"f\":\"read\",\"type\":\"ok\",\"start\":5,\"end\":1}").ok());
  auto h = ParseHistory("{\"f\":\"read\",\"type\":\"ok\"}\n{bad}\n");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("line 2"), std::string::npos);
}

}  // namespace
}  // namespace raftkv::jepsen
