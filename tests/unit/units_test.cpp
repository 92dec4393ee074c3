#include "cli/units.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lt {
namespace {

struct DurationCase {
  const char* text;
  Nanos expected;
};

TEST(UnitsDuration, EveryUnitAndCombination) {
  const std::vector<DurationCase> cases = {
      {"100ns", 100},
      {"250us", 250 * kMicro},
      {"250\xC2\xB5s", 250 * kMicro},  // micro sign
      {"250\xCE\xBCs", 250 * kMicro},  // greek mu
      {"500ms", 500 * kMilli},
      {"10s", 10 * kSecond},
      {"2m", 120 * kSecond},
      {"3h", 3 * 3600 * kSecond},
      {"1h30m", 5400 * kSecond},
      {"1m30s500ms", 90 * kSecond + 500 * kMilli},
      {"30m1h", 5400 * kSecond},  // order is not enforced, as in Go
      {"1.5s", 1500 * kMilli},
      {".5s", 500 * kMilli},
      {"0.000000001s", 1},
      {"1.5us", 1500},
      {"10", 10 * kSecond},  // bare number means seconds
      {"0.25", 250 * kMilli},
      {"0", 0},
      {"0s", 0},
      {"007s", 7 * kSecond},
      {"8760h", 8760 * 3600 * kSecond},
      {"9223372036854775807ns", INT64_MAX},
  };
  for (const auto& c : cases) {
    auto v = parse_duration(c.text);
    ASSERT_TRUE(v.has_value()) << c.text;
    EXPECT_EQ(*v, c.expected) << c.text;
  }
}

TEST(UnitsDuration, Rejects) {
  const std::vector<std::string> bad = {"",
                                        " ",
                                        "-1s",
                                        "+1s",
                                        "1 s",
                                        " 1s",
                                        "1s ",
                                        "s",
                                        "ms",
                                        "1x",
                                        "1sec",
                                        "1S",
                                        "1H",
                                        "1h30",  // trailing bare number is ambiguous
                                        "1.",
                                        ".",
                                        "1..5s",
                                        "1.5.5s",
                                        "0.0000000001s",  // ten decimals
                                        "1.5ns",          // sub-nanosecond
                                        "0.1234567891ms",
                                        "nan",
                                        "inf",
                                        "NaN",
                                        "infs",
                                        "1e3s",
                                        "0x10s",
                                        "1_000s",
                                        "9223372036854775808ns",  // one past int64
                                        "2562048h",  // ~ 292 years: overflows int64 nanoseconds
                                        "99999999999999999999999999999999999999999h",
                                        "5000000000000000000s",
                                        "1h-1m",
                                        "1\xC2s",
                                        "\xC2\xB5s"};
  for (const auto& t : bad) EXPECT_FALSE(parse_duration(t).has_value()) << '"' << t << '"';
}

TEST(UnitsRate, ExactRationals) {
  struct Case {
    const char* text;
    std::uint64_t num, den;
  };
  const std::vector<Case> cases = {
      {"100", 100, 1},
      {"0.1", 1, 10},
      {"0.5", 1, 2},
      {"2.50", 5, 2},
      {"0.333", 333, 1000},
      {"10k", 10000, 1},
      {"10K", 10000, 1},
      {"1.5M", 1500000, 1},
      {"2G", 2000000000, 1},
      {"1T", 1000000000000, 1},
      {"0.0001k", 1, 10},
      {"0.000000001", 1, 1000000000},
      {"0.123456789", 123456789, 1000000000},
      {"0", 0, 1},
      {"0.000", 0, 1},
      {".25", 1, 4},
      {"18446744073709551615", UINT64_MAX, 1},
  };
  for (const auto& c : cases) {
    auto r = parse_rate(c.text);
    ASSERT_TRUE(r.has_value()) << c.text;
    EXPECT_EQ(r->num, c.num) << c.text;
    EXPECT_EQ(r->den, c.den) << c.text;
  }
}

TEST(UnitsRate, Rejects) {
  const std::vector<std::string> bad = {"",
                                        "-1",
                                        "+1",
                                        "abc",
                                        "1x",
                                        "10kk",
                                        "10 k",
                                        "1m",
                                        "1Ki",
                                        "nan",
                                        "inf",
                                        "1e6",
                                        "0x10",
                                        "1.",
                                        "0.0000000001",
                                        "18446744073709551616",
                                        "18446744073709551.616k",
                                        "1,5",
                                        "99999999999999999999999999999999999999999999",
                                        "1/2",
                                        "100/s"};
  for (const auto& t : bad) EXPECT_FALSE(parse_rate(t).has_value()) << '"' << t << '"';
}

TEST(UnitsSize, DecimalAndBinarySuffixes) {
  struct Case {
    const char* text;
    std::uint64_t expected;
  };
  const std::vector<Case> cases = {
      {"64", 64},         {"64B", 64},          {"1k", 1000},         {"1K", 1000},
      {"1kB", 1000},      {"1Ki", 1024},        {"1KiB", 1024},       {"2M", 2000000},
      {"1Mi", 1u << 20},  {"1MiB", 1u << 20},   {"16MiB", 16u << 20}, {"1GiB", 1ull << 30},
      {"1G", 1000000000}, {"1TiB", 1ull << 40}, {"0.5KiB", 512},      {"1.5k", 1500},
      {"0", 0},
  };
  for (const auto& c : cases) {
    auto v = parse_size(c.text);
    ASSERT_TRUE(v.has_value()) << c.text;
    EXPECT_EQ(*v, c.expected) << c.text;
  }
}

TEST(UnitsSize, Rejects) {
  const std::vector<std::string> bad = {
      "",           "-1",   "1.5",  "0.1KiB", "1KiBB",
      "1b",         "1KB ", "1 KB", "1Kib",   "1Pi",
      "abc",        "1e3",  "inf",  "B",      "18446744073709551616",
      "20000000TiB"};
  for (const auto& t : bad) EXPECT_FALSE(parse_size(t).has_value()) << '"' << t << '"';
}

TEST(UnitsCount, SiSuffixes) {
  EXPECT_EQ(parse_count("0"), 0u);
  EXPECT_EQ(parse_count("10"), 10u);
  EXPECT_EQ(parse_count("10k"), 10000u);
  EXPECT_EQ(parse_count("1.5M"), 1500000u);
  EXPECT_EQ(parse_count("2G"), 2000000000u);
  EXPECT_EQ(parse_count("3T"), 3000000000000u);
  EXPECT_EQ(parse_count("18446744073709551615"), UINT64_MAX);
}

TEST(UnitsCount, Rejects) {
  const std::vector<std::string> bad = {"",
                                        "-5",
                                        "1.5",
                                        "0.5",
                                        "1.0001k",
                                        "10x",
                                        "1Ki",
                                        "1B",
                                        "nan",
                                        "inf",
                                        "1e3",
                                        " 1",
                                        "1 ",
                                        "0x1",
                                        "18446744073709551616",
                                        "18446744073709552k",
                                        "1,000"};
  for (const auto& t : bad) EXPECT_FALSE(parse_count(t).has_value()) << '"' << t << '"';
}

}  // namespace
}  // namespace lt
