#include "metrics/hdr_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "metrics/hdr_log.hpp"

namespace lt {
namespace {

// The ceil(p/100 * n)-th smallest sample, in integers (p in hundredths of a percent) so that
// floating point cannot move the rank.
std::int64_t exact_quantile(const std::vector<std::int64_t>& sorted, std::int64_t p_x100) {
  const std::size_t rank = (static_cast<std::size_t>(p_x100) * sorted.size() + 9999) / 10000;
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void expect_quantiles_within_precision(const std::vector<std::int64_t>& samples) {
  HdrHistogram h;
  for (auto v : samples) h.record(v);
  auto sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t p_x100 : {100, 1000, 2500, 5000, 7500, 9000, 9900, 9990, 9999, 10000}) {
    const double p = static_cast<double>(p_x100) / 100.0;
    const std::int64_t exact = exact_quantile(sorted, p_x100);
    const std::int64_t got = h.value_at_percentile(p);
    // Highest-equivalent semantics: never below the exact sample, at most 0.1% above it.
    EXPECT_GE(got, exact) << "p" << p;
    EXPECT_LE(static_cast<double>(got - exact), 0.001 * static_cast<double>(exact)) << "p" << p;
  }
  EXPECT_EQ(h.value_at_percentile(0), h.min());
  EXPECT_LE(h.min(), sorted.front());
  EXPECT_GE(h.min(), sorted.front() - sorted.front() / 1000);
}

void expect_same_buckets(const HdrHistogram& a, const HdrHistogram& b) {
  ASSERT_EQ(a.counts_length(), b.counts_length());
  for (std::size_t i = 0; i < a.counts_length(); ++i) {
    ASSERT_EQ(a.count_at_index(i), b.count_at_index(i)) << "bucket " << i;
  }
  EXPECT_EQ(a.total_count(), b.total_count());
  EXPECT_EQ(a.min(), b.min());
  EXPECT_EQ(a.max(), b.max());
}

TEST(HdrHistogram, LayoutMatchesReferenceImplementation) {
  HdrHistogram def;  // 1 ns .. 1 h, 3 digits: 32 buckets of 2048 sub-buckets
  EXPECT_EQ(def.lowest(), 1);
  EXPECT_EQ(def.highest(), 3'600'000'000'000);
  EXPECT_EQ(def.significant_figures(), 3);
  EXPECT_EQ(def.counts_length(), 33u * 1024u);
  // HdrHistogram_c's test_create expects 23552 for (1, 3.6e9, 3).
  EXPECT_EQ(HdrHistogram(1, 3'600'000'000, 3).counts_length(), 23552u);
  // Java's HistogramLogProcessor reports 18 buckets of 256 sub-buckets for (1, 2^25-1, 2).
  EXPECT_EQ(HdrHistogram(1, 33'554'431, 2).counts_length(), 19u * 128u);
  // Unit magnitude 4: the first 2048 buckets are 16 wide.
  HdrHistogram coarse(20, 1'000'000, 3);
  EXPECT_EQ(coarse.value_at_index(1), 16);
  // The largest layout still ends exactly at INT64_MAX.
  HdrHistogram huge(1, INT64_MAX, 5);
  huge.record(INT64_MAX);
  EXPECT_EQ(huge.max(), INT64_MAX);
}

TEST(HdrHistogram, RejectsInvalidParameters) {
  EXPECT_THROW(HdrHistogram(0, 1000, 3), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(10, 19, 3), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(1, 1000, 0), std::invalid_argument);
  EXPECT_THROW(HdrHistogram(1, 1000, 6), std::invalid_argument);
  EXPECT_NO_THROW(HdrHistogram(10, 20, 1));
}

TEST(HdrHistogram, EmptyHistogramReportsZeros) {
  HdrHistogram h;
  EXPECT_EQ(h.total_count(), 0u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.value_at_percentile(50), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stddev(), 0.0);
}

TEST(HdrHistogram, OneToMillionPercentiles) {
  HdrHistogram h;
  for (std::int64_t v = 1; v <= 1'000'000; ++v) h.record(v);
  EXPECT_EQ(h.total_count(), 1'000'000u);
  EXPECT_EQ(h.min(), 1);
  // 500,000 lies in a bucket 256 wide starting at 499,968; 990,000 and 999,000 in buckets 512
  // wide, as does the max. The reported value is each bucket's highest equivalent value.
  EXPECT_EQ(h.value_at_percentile(50), 500'223);
  EXPECT_EQ(h.value_at_percentile(99), 990'207);
  EXPECT_EQ(h.value_at_percentile(99.9), 999'423);
  EXPECT_EQ(h.value_at_percentile(100), 1'000'447);
  EXPECT_EQ(h.max(), 1'000'447);
  EXPECT_EQ(h.value_at_percentile(0), 1);
  EXPECT_NEAR(h.value_at_percentile(50), 500'000, 500);
  EXPECT_NEAR(h.mean(), 500'000.5, 500);
  EXPECT_NEAR(h.stddev(), 288'675.1, 300);
}

TEST(HdrHistogram, SmallValuesAreExact) {
  HdrHistogram h;
  for (std::int64_t v : {3, 1, 4, 1, 5, 9, 2, 6}) h.record(v);
  EXPECT_EQ(h.value_at_percentile(50), 3);
  EXPECT_EQ(h.value_at_percentile(100), 9);
  EXPECT_EQ(h.min(), 1);
  EXPECT_DOUBLE_EQ(h.mean(), 31.0 / 8.0);
  // 99.9% of 1000 is 999.0000000000001 in doubles; the rank must still be 999, not 1000.
  HdrHistogram thousand;
  for (std::int64_t v = 1; v <= 1000; ++v) thousand.record(v);
  EXPECT_EQ(thousand.value_at_percentile(99.9), 999);
  EXPECT_EQ(thousand.value_at_percentile(0.7), 7);  // 6.999999999999999: still rank 7
}

TEST(HdrHistogram, ExponentialSampleMatchesExactQuantiles) {
  std::mt19937_64 rng(42);
  std::exponential_distribution<double> dist(1.0 / 1e6);  // mean 1 ms in ns
  std::vector<std::int64_t> samples(200'000);
  for (auto& s : samples) s = 1 + static_cast<std::int64_t>(dist(rng));
  expect_quantiles_within_precision(samples);
}

TEST(HdrHistogram, UniformSampleMatchesExactQuantiles) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> dist(1'000, 3'000'000'000);
  std::vector<std::int64_t> samples(200'000);
  for (auto& s : samples) s = dist(rng);
  expect_quantiles_within_precision(samples);
}

TEST(HdrHistogram, ClampsOutOfRangeValues) {
  HdrHistogram h(1, 1'000'000, 3);
  h.record(-5);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.clamped(), 0u);
  h.record(1'000'001);
  h.record_n(INT64_MAX, 3);
  EXPECT_EQ(h.clamped(), 4u);
  EXPECT_EQ(h.total_count(), 5u);
  EXPECT_GE(h.max(), 1'000'000);
  EXPECT_LE(h.max(), 1'000'000 + 1'000'000 / 1000);
  EXPECT_EQ(h.value_at_percentile(100), h.max());
  EXPECT_EQ(h.value_at_percentile(10), 0);
  h.record_n(5, 0);  // a zero count records nothing
  EXPECT_EQ(h.total_count(), 5u);
}

TEST(HdrHistogram, AddEqualsRecordingBoth) {
  HdrHistogram a, b, both;
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(13.0, 2.0);
  for (int i = 0; i < 50'000; ++i) {
    const auto v = static_cast<std::int64_t>(dist(rng));
    (i % 3 == 0 ? a : b).record(v);
    both.record(v);
  }
  b.record_n(4'000'000'000'000, 2);  // clamped counts travel too
  both.record_n(4'000'000'000'000, 2);
  ASSERT_TRUE(a.add(b));
  expect_same_buckets(a, both);
  EXPECT_EQ(a.clamped(), 2u);
  EXPECT_EQ(a.value_at_percentile(99.9), both.value_at_percentile(99.9));
  EXPECT_DOUBLE_EQ(a.mean(), both.mean());

  HdrHistogram empty;
  ASSERT_TRUE(empty.add(both));  // min/max come over into an empty histogram
  expect_same_buckets(empty, both);
  ASSERT_TRUE(both.add(HdrHistogram{}));  // and adding an empty one changes nothing
  expect_same_buckets(empty, both);
}

TEST(HdrHistogram, AddRefusesDifferentLayout) {
  HdrHistogram a;
  a.record(1234);
  HdrHistogram other_digits(1, 3'600'000'000'000, 2);
  other_digits.record(99);
  HdrHistogram other_range(1, 1'000'000, 3);
  other_range.record(99);
  EXPECT_FALSE(a.same_layout(other_digits));
  EXPECT_FALSE(a.add(other_digits));
  EXPECT_FALSE(a.add(other_range));
  EXPECT_EQ(a.total_count(), 1u);
  EXPECT_EQ(a.min(), 1234);
  EXPECT_EQ(a.max(), 1234);
}

TEST(HdrHistogram, ResetClearsEverything) {
  HdrHistogram h(1, 1000, 3);
  h.record(5000);
  h.reset();
  EXPECT_EQ(h.total_count(), 0u);
  EXPECT_EQ(h.clamped(), 0u);
  EXPECT_EQ(h.max(), 0);
  h.record(7);
  EXPECT_EQ(h.min(), 7);
  EXPECT_EQ(h.max(), 7);
}

// Interval log: the lines a HdrHistogram log reader parses.
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

std::vector<std::string> write_log(const std::vector<HdrHistogram>& hs, const char* tag) {
  std::FILE* f = std::tmpfile();
  EXPECT_NE(f, nullptr);
  HdrLogWriter w(f);
  w.write_header(1'700'000'000'123'456'789, "load-tester test\nsecond line");
  for (std::size_t i = 0; i < hs.size(); ++i) {
    w.write_interval(tag, static_cast<Nanos>(i) * kSecond, kSecond, hs[i]);
  }
  std::rewind(f);
  std::string text;
  for (int c; (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
  std::fclose(f);
  return split(text, '\n');
}

TEST(HdrLog, WritesHeaderAndTwoIntervals) {
  HdrHistogram first, second;
  for (std::int64_t v = 1; v <= 1000; ++v) first.record(v * 1000);
  second.record(26'083'000);
  const auto lines = write_log({first, second}, "latency");
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0], "#load-tester test");
  EXPECT_EQ(lines[1], "#second line");
  EXPECT_EQ(lines[2], "#[Histogram log format version 1.3]");
  EXPECT_EQ(lines[3],
            "#[StartTime: 1700000000.123 (seconds since epoch), "
            "Tue Nov 14 22:13:20 UTC 2023]");
  EXPECT_EQ(lines[4], "#[BaseTime: 1700000000.123 (seconds since epoch)]");
  EXPECT_EQ(lines[5],
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
            "\"Interval_Compressed_Histogram\"");
  const HdrHistogram* expected[] = {&first, &second};
  for (int i = 0; i < 2; ++i) {
    const auto f = split(lines[6 + i], ',');
    ASSERT_EQ(f.size(), 5u) << lines[6 + i];
    EXPECT_EQ(f[0], "Tag=latency");
    EXPECT_EQ(std::stod(f[1]), i);
    EXPECT_EQ(f[2], "1.000");
    EXPECT_NEAR(std::stod(f[3]), static_cast<double>(expected[i]->max()) / 1e6, 0.0005);
    auto h = HdrHistogram::decode_base64(f[4]);
    ASSERT_TRUE(h) << f[4];
    expect_same_buckets(*h, *expected[i]);
  }
  // 26,083,000 ns lies in a bucket ending at 26,083,327 ns (see kJava in hdr_encoding_test).
  EXPECT_EQ(split(lines[7], ',')[3], "26.083");
}

TEST(HdrLog, SanitizesTagsAndOmitsAnEmptyTag) {
  HdrHistogram h;
  h.record(1);
  auto lines = write_log({h}, "a b,c");
  EXPECT_EQ(lines.back().rfind("Tag=a_b_c,0.000,1.000,0.000,HISTF", 0), 0u) << lines.back();
  lines = write_log({h}, "");
  EXPECT_EQ(lines.back().rfind("0.000,1.000,0.000,HISTF", 0), 0u) << lines.back();
}

}  // namespace
}  // namespace lt
