// Unit tests of raftkv-bench's statistics and reports.
#include "cmd/raftkv-bench/stats.h"

#include <vector>

#include "cmd/raftkv-bench/report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace raftkv::bench {
namespace {

using ::testing::HasSubstr;

std::vector<absl::Duration> Millis(int from, int to) {
  std::vector<absl::Duration> v;
  for (int i = from; i <= to; ++i) v.push_back(absl::Milliseconds(i));
  return v;
}

TEST(PercentileTest, NearestRankOnOneToHundred) {
  const auto v = Millis(1, 100);
  EXPECT_EQ(Percentile(v, 50), absl::Milliseconds(50));
  EXPECT_EQ(Percentile(v, 90), absl::Milliseconds(90));
  EXPECT_EQ(Percentile(v, 99), absl::Milliseconds(99));
  EXPECT_EQ(Percentile(v, 99.9), absl::Milliseconds(100));
  EXPECT_EQ(Percentile(v, 100), absl::Milliseconds(100));
  EXPECT_EQ(Percentile(v, 0.5), absl::Milliseconds(1));
}

TEST(PercentileTest, RoundingDoesNotSkipARank) {
  // 99.9% of 1000 is exactly rank 999, despite floating point.
  const auto v = Millis(1, 1000);
  EXPECT_EQ(Percentile(v, 99.9), absl::Milliseconds(999));
  EXPECT_EQ(Percentile(v, 50), absl::Milliseconds(500));
}

TEST(PercentileTest, SingleSampleIsEveryPercentile) {
  const std::vector<absl::Duration> v = {absl::Microseconds(7)};
  for (double p : {1.0, 50.0, 99.9, 100.0}) {
    EXPECT_EQ(Percentile(v, p), absl::Microseconds(7)) << p;
  }
}

TEST(HistogramTest, OneTwoFiveBucketsTrimmedAtBothEnds) {
  // 1ms, 2ms (boundaries are inclusive), 3ms, 7ms, 7ms.
  const std::vector<absl::Duration> v = {
      absl::Milliseconds(1), absl::Milliseconds(2), absl::Milliseconds(3),
      absl::Milliseconds(7), absl::Milliseconds(7)};
  const std::vector<Bucket> h = Histogram(v);
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].upper, absl::Milliseconds(1));
  EXPECT_EQ(h[0].count, 1);
  EXPECT_EQ(h[1].upper, absl::Milliseconds(2));
  EXPECT_EQ(h[1].count, 1);
  EXPECT_EQ(h[2].upper, absl::Milliseconds(5));
  EXPECT_EQ(h[2].count, 1);
  EXPECT_EQ(h[3].upper, absl::Milliseconds(10));
  EXPECT_EQ(h[3].count, 2);
}

TEST(HistogramTest, KeepsEmptyBucketsInsideTheRange) {
  const std::vector<absl::Duration> v = {absl::Microseconds(10),
                                         absl::Milliseconds(1)};
  const std::vector<Bucket> h = Histogram(v);
  // 10us, 20us, 50us, 100us, 200us, 500us, 1ms.
  ASSERT_EQ(h.size(), 7u);
  EXPECT_EQ(h.front().count, 1);
  EXPECT_EQ(h[3].count, 0);
  EXPECT_EQ(h.back().count, 1);
}

TEST(HistogramTest, TinyAndHugeSamplesLandInTheEndBuckets) {
  const std::vector<absl::Duration> v = {absl::Nanoseconds(1),
                                         absl::Seconds(1000)};
  const std::vector<Bucket> h = Histogram(v);
  EXPECT_EQ(h.front().upper, absl::Microseconds(10));
  EXPECT_EQ(h.back().upper, absl::InfiniteDuration());
  int64_t total = 0;
  for (const Bucket& b : h) total += b.count;
  EXPECT_EQ(total, 2);
}

TEST(HistogramTest, EmptyInputGivesNoBuckets) {
  EXPECT_TRUE(Histogram({}).empty());
}

TEST(SummarizeTest, UnsortedInput) {
  std::vector<absl::Duration> v = Millis(1, 100);
  std::reverse(v.begin(), v.end());
  const Summary s = Summarize("put", v, 3, absl::Seconds(2));
  EXPECT_EQ(s.requests, 100);
  EXPECT_EQ(s.errors, 3);
  EXPECT_DOUBLE_EQ(s.throughput, 50.0);
  EXPECT_EQ(s.min, absl::Milliseconds(1));
  EXPECT_EQ(s.max, absl::Milliseconds(100));
  EXPECT_EQ(s.p50, absl::Milliseconds(50));
  EXPECT_EQ(s.p99, absl::Milliseconds(99));
  EXPECT_EQ(s.mean, absl::Microseconds(50500));
  int64_t total = 0;
  for (const Bucket& b : s.histogram) total += b.count;
  EXPECT_EQ(total, 100);
}

TEST(SummarizeTest, NoSamples) {
  const Summary s = Summarize("range", {}, 5, absl::Seconds(1));
  EXPECT_EQ(s.requests, 0);
  EXPECT_EQ(s.errors, 5);
  EXPECT_EQ(s.throughput, 0);
  EXPECT_TRUE(s.histogram.empty());
}

TEST(ReportTest, TextHasEveryField) {
  const Summary s = Summarize("put", Millis(1, 100), 0, absl::Seconds(1));
  const std::string text = FormatText(s);
  for (const char* field :
       {"Summary (put)", "100 ok, 0 errors", "Throughput:   100.0 req/s",
        "p50 50.000", "p90 90.000", "p99 99.000", "p99.9 100.000",
        "max 100.000", "Response time histogram", "|****"}) {
    EXPECT_THAT(text, HasSubstr(field));
  }
}

TEST(ReportTest, JsonHasEveryField) {
  const Summary s = Summarize("range", Millis(1, 10), 1, absl::Seconds(1));
  const std::string json = FormatJson("mixed", s, {s});
  for (const char* field :
       {"{\"workload\":\"mixed\",\"total\":{\"name\":\"range\"",
        "\"requests\":10", "\"errors\":1", "\"throughput\":10.000",
        "\"p99.9\":10.000000", "\"le_ms\":1,\"count\":1", "\"by_op\":[{"}) {
    EXPECT_THAT(json, HasSubstr(field));
  }
}

TEST(ReportTest, InfiniteBucketIsNullInJson) {
  const Summary s = Summarize("put", {absl::Seconds(500)}, 0, absl::Seconds(1));
  EXPECT_THAT(SummaryJson(s), HasSubstr("{\"le_ms\":null,\"count\":1}"));
}

}  // namespace
}  // namespace raftkv::bench
