#include "results/compare.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "core/time.hpp"

namespace lt {
namespace {

using nlohmann::json;

const char* const kMetricList =
    "rate, sent, completed, missed, lost, errors, p50, p90, p99, p99.9, p99.99, max, mean, "
    "e2e_p50, e2e_p99";

std::string parse_error(const std::string& text) {
  try {
    parse_fail_if(text);
  } catch (const UsageError& e) {
    return e.message;
  }
  return "";
}

struct ParseCase {
  const char* text;
  CompareMetric metric;
  CompareOp op;
  Threshold threshold;
  double value;
};

TEST(CompareFailIf, ParsesEveryValueForm) {
  const std::vector<ParseCase> cases = {
      {"p99>+10%", CompareMetric::P99, CompareOp::Greater, Threshold::Relative, 10},
      {"rate<-5%", CompareMetric::Rate, CompareOp::Less, Threshold::Relative, -5},
      {"p50>=+2.5%", CompareMetric::P50, CompareOp::GreaterEqual, Threshold::Relative, 2.5},
      {"errors>0", CompareMetric::Errors, CompareOp::Greater, Threshold::Value, 0},
      {"lost>=1", CompareMetric::Lost, CompareOp::GreaterEqual, Threshold::Value, 1},
      {"sent<=+500", CompareMetric::Sent, CompareOp::LessEqual, Threshold::Absolute, 500},
      {"missed<-3", CompareMetric::Missed, CompareOp::Less, Threshold::Absolute, -3},
      {"rate<99999.5", CompareMetric::Rate, CompareOp::Less, Threshold::Value, 99999.5},
      {"rate>-0.5", CompareMetric::Rate, CompareOp::Greater, Threshold::Absolute, -0.5},
      {"p99.9>+2ms", CompareMetric::P999, CompareOp::Greater, Threshold::Absolute, 2e6},
      {"p99.99<-100us", CompareMetric::P9999, CompareOp::Less, Threshold::Absolute, -1e5},
      {"max>1s", CompareMetric::Max, CompareOp::Greater, Threshold::Value, 1e9},
      {"mean>50ms", CompareMetric::Mean, CompareOp::Greater, Threshold::Value, 5e7},
      {"p90>1.5ms", CompareMetric::P90, CompareOp::Greater, Threshold::Value, 1.5e6},
      {"p99>0", CompareMetric::P99, CompareOp::Greater, Threshold::Value, 0},
      {"e2e_p50>+1ms", CompareMetric::E2eP50, CompareOp::Greater, Threshold::Absolute, 1e6},
      {"e2e_p99 > +20%", CompareMetric::E2eP99, CompareOp::Greater, Threshold::Relative, 20},
      {"completed<1000", CompareMetric::Completed, CompareOp::Less, Threshold::Value, 1000},
  };
  for (const auto& c : cases) {
    const FailIf f = parse_fail_if(c.text);
    EXPECT_EQ(f.text, c.text);
    EXPECT_EQ(f.metric, c.metric) << c.text;
    EXPECT_EQ(f.op, c.op) << c.text;
    EXPECT_EQ(f.threshold, c.threshold) << c.text;
    EXPECT_DOUBLE_EQ(f.value, c.value) << c.text;
  }
}

TEST(CompareFailIf, RejectsWithOneLineNamingTheFlag) {
  const std::string grammar =
      std::string("--fail-if: expected METRIC OP VALUE like 'p99>+10%' (metrics: ") + kMetricList +
      "), got ";
  EXPECT_EQ(parse_error("p99"), grammar + "\"p99\"");
  EXPECT_EQ(parse_error(""), grammar + "\"\"");
  EXPECT_EQ(parse_error("p99=5ms"), grammar + "\"p99=5ms\"");
  EXPECT_EQ(parse_error("p99==5ms"), grammar + "\"p99==5ms\"");
  EXPECT_EQ(parse_error("p99=>5ms"), grammar + "\"p99=>5ms\"");
  EXPECT_EQ(parse_error(">5ms"), grammar + "\">5ms\"");
  EXPECT_EQ(parse_error("p99>"), grammar + "\"p99>\"");
  EXPECT_EQ(parse_error("p98>1ms"),
            std::string("--fail-if: unknown metric \"p98\" in \"p98>1ms\" (metrics: ") +
                kMetricList + ")");

  const std::string latency =
      "a latency takes +N% or -N% (relative change), +D or -D (absolute change) or D (new "
      "value), D a duration with its unit like 2ms";
  const std::string count =
      "a count takes +N% or -N% (relative change), +N or -N (absolute change) or N (new value)";
  const std::string rate =
      "a rate takes +N% or -N% (relative change), +N or -N (absolute change, msg/s) or N (new "
      "value, msg/s)";
  EXPECT_EQ(parse_error("p99>5"), "--fail-if: bad value \"5\" in \"p99>5\": " + latency);
  EXPECT_EQ(parse_error("p99>+5"), "--fail-if: bad value \"+5\" in \"p99>+5\": " + latency);
  EXPECT_EQ(parse_error("p99>5xs"), "--fail-if: bad value \"5xs\" in \"p99>5xs\": " + latency);
  EXPECT_EQ(parse_error("p99>+-5ms"),
            "--fail-if: bad value \"+-5ms\" in \"p99>+-5ms\": " + latency);
  EXPECT_EQ(parse_error("errors>5ms"), "--fail-if: bad value \"5ms\" in \"errors>5ms\": " + count);
  EXPECT_EQ(parse_error("lost>1e3"), "--fail-if: bad value \"1e3\" in \"lost>1e3\": " + count);
  EXPECT_EQ(parse_error("lost>inf"), "--fail-if: bad value \"inf\" in \"lost>inf\": " + count);
  EXPECT_EQ(parse_error("sent>+"), "--fail-if: bad value \"+\" in \"sent>+\": " + count);
  EXPECT_EQ(parse_error("sent>5."), "--fail-if: bad value \"5.\" in \"sent>5.\": " + count);
  EXPECT_EQ(parse_error("rate<-x%"), "--fail-if: bad value \"-x%\" in \"rate<-x%\": " + rate);
  EXPECT_EQ(parse_error("rate<+%"), "--fail-if: bad value \"+%\" in \"rate<+%\": " + rate);
  EXPECT_EQ(parse_error("p99>10%"),
            "--fail-if: bad value \"10%\" in \"p99>10%\": a percentage is a change: give its "
            "sign, +10%");
}

FailIf cond(const char* text) {
  return parse_fail_if(text);
}

TEST(CompareEvaluate, RelativeChange) {
  EXPECT_TRUE(evaluate(cond("p99>+10%"), 100, 111));
  EXPECT_FALSE(evaluate(cond("p99>+10%"), 100, 110));  // exactly at the threshold
  EXPECT_TRUE(evaluate(cond("p99>=+10%"), 100, 110));
  EXPECT_FALSE(evaluate(cond("p99>+10%"), 100, 90));
  EXPECT_TRUE(evaluate(cond("rate<-5%"), 100000, 94999));
  EXPECT_FALSE(evaluate(cond("rate<-5%"), 100000, 95000));
  EXPECT_TRUE(evaluate(cond("rate<=-5%"), 100000, 95000));
  EXPECT_TRUE(evaluate(cond("p50<+1%"), 100, 100));
}

TEST(CompareEvaluate, RelativeChangeFromZero) {
  // Any rise from zero exceeds every percentage; nothing falls below zero.
  EXPECT_TRUE(evaluate(cond("errors>+1000%"), 0, 1));
  EXPECT_TRUE(evaluate(cond("errors>=+10%"), 0, 1));
  EXPECT_TRUE(evaluate(cond("errors>-10%"), 0, 1));
  EXPECT_FALSE(evaluate(cond("errors>+10%"), 0, 0));
  EXPECT_FALSE(evaluate(cond("errors>=-10%"), 0, 0));
  EXPECT_FALSE(evaluate(cond("rate<-5%"), 0, 0));
  EXPECT_FALSE(evaluate(cond("rate<=+5%"), 0, 10));
}

TEST(CompareEvaluate, AbsoluteChange) {
  EXPECT_TRUE(evaluate(cond("p99.9>+2ms"), 1e6, 3.5e6));
  EXPECT_FALSE(evaluate(cond("p99.9>+2ms"), 1e6, 3e6));
  EXPECT_TRUE(evaluate(cond("p99.9>=+2ms"), 1e6, 3e6));
  EXPECT_TRUE(evaluate(cond("p99<-100us"), 1e6, 8e5));
  EXPECT_FALSE(evaluate(cond("p99<-100us"), 1e6, 9.5e5));
  EXPECT_TRUE(evaluate(cond("lost>+0"), 0, 1));
  EXPECT_FALSE(evaluate(cond("lost>+0"), 5, 5));
  EXPECT_TRUE(evaluate(cond("sent<-500"), 2000, 1000));
  EXPECT_TRUE(evaluate(cond("rate<=-0.5"), 10, 9.5));
}

TEST(CompareEvaluate, NewValue) {
  EXPECT_TRUE(evaluate(cond("errors>0"), 0, 1));
  EXPECT_FALSE(evaluate(cond("errors>0"), 100, 0));  // the base does not matter
  EXPECT_TRUE(evaluate(cond("lost>=1"), 0, 1));
  EXPECT_FALSE(evaluate(cond("lost>=1"), 0, 0));
  EXPECT_TRUE(evaluate(cond("max>1s"), 0, 1.5e9));
  EXPECT_FALSE(evaluate(cond("max>1s"), 5e9, 1e9));
  EXPECT_TRUE(evaluate(cond("rate<95000"), 100000, 94999.5));
  EXPECT_TRUE(evaluate(cond("p99<=0"), 5, 0));
}

// ---- end to end: real files in a temporary directory ----

class CompareFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lt-compare-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const auto& p : written_) std::remove(p.c_str());
    rmdir(dir_.c_str());
  }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    written_.push_back(path);
    return path;
  }

  static json result(const char* sink, double rate, std::int64_t sent, std::int64_t p99,
                     std::int64_t err_reset, std::int64_t e2e_count = 0) {
    json pct = {
        {"p50", 1000}, {"p90", 2000}, {"p99", p99}, {"p99.9", 4 * kMilli}, {"p99.99", 5 * kMilli}};
    json latency = {{"count", sent}, {"max", 6 * kMilli}, {"mean", 1500.5}, {"percentiles", pct}};
    json e2e = {{"count", e2e_count}, {"percentiles", {{"p50", 7 * kMicro}, {"p99", 9 * kMicro}}}};
    return json{
        {"tool", "load-tester"},
        {"format", 1},
        {"options",
         {{"sink", sink}, {"devices", 10}, {"rate", 1000.0}, {"duration_ns", 10 * kSecond}}},
        {"run", {{"start_unix_ns", 1'700'000'000 * kSecond}, {"interrupted", false}}},
        {"rate", {{"achieved", rate}}},
        {"counters",
         {{"sent", sent},
          {"completed", sent - 2},
          {"missed", 0},
          {"lost", 2},
          {"err_reset", err_reset},
          {"err_closed", 1},
          {"reconnects", 99}}},
        {"histograms", {{"latency", latency}, {"e2e", e2e}}}};
  }

  // Runs compare into memory; the output text and the return code.
  static std::pair<std::string, int> compare(const std::vector<std::string>& args) {
    char* buf = nullptr;
    std::size_t size = 0;
    std::FILE* out = open_memstream(&buf, &size);
    int rc = -1;
    try {
      rc = run_compare(args, out);
    } catch (...) {
      std::fclose(out);
      std::free(buf);
      throw;
    }
    std::fclose(out);
    std::string text(buf, size);
    std::free(buf);
    return {text, rc};
  }

  static std::string error_of(const std::vector<std::string>& args) {
    try {
      compare(args);
    } catch (const UsageError& e) {
      return e.message;
    }
    return "";
  }

  std::string dir_;
  std::vector<std::string> written_;
};

TEST_F(CompareFiles, PrintsTableAndExitsByCondition) {
  const std::string base = write("base.json", result("tcp", 1000, 10000, 2 * kMilli, 0).dump());
  const std::string now = write("new.json", result("tcp", 990, 9900, 2'500'000, 3).dump());

  auto [text, rc] = compare({base, now});
  EXPECT_EQ(rc, 0);
  EXPECT_NE(text.find("base  " + base +
                      ": tcp, 10 devices, target 1000/s, 10.00s, started "
                      "2023-11-14T22:13:20.000Z\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("new   " + now + ": tcp"), std::string::npos) << text;
  EXPECT_EQ(text.find("warning"), std::string::npos) << text;
  EXPECT_NE(text.find("\nmetric              base           new        change\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rate              1000/s         990/s         -10/s     -1.0%\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sent               10000          9900          -100     -1.0%\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("errors                 1             4            +3   +300.0%\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("missed                 0             0             0       n/a\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("p99               2.00ms        2.50ms      +500.0us    +25.0%\n"),
            std::string::npos)
      << text;
  for (const char* row :
       {"completed ", "lost ", "p50 ", "p90 ", "p99.9 ", "p99.99 ", "max ", "mean "})
    EXPECT_NE(text.find(std::string("\n") + row), std::string::npos) << row;
  EXPECT_EQ(text.find("e2e_p50"), std::string::npos) << text;

  auto [ok_text, ok_rc] = compare({base, now, "--fail-if", "p99>+30%", "--fail-if=lost>2"});
  EXPECT_EQ(ok_rc, 0);
  EXPECT_NE(ok_text.find("fail-if p99>+30%: ok (p99 +25.0%: 2.00ms -> 2.50ms)\n"),
            std::string::npos)
      << ok_text;
  EXPECT_NE(ok_text.find("fail-if lost>2: ok (lost: 2 -> 2)\n"), std::string::npos) << ok_text;

  auto [bad_text, bad_rc] = compare({"--fail-if", "p99>+10%", base, "-fail-if=errors>+2", now});
  EXPECT_EQ(bad_rc, 1);
  EXPECT_NE(bad_text.find("fail-if p99>+10%: HOLDS (p99 +25.0%: 2.00ms -> 2.50ms)\n"),
            std::string::npos)
      << bad_text;
  EXPECT_NE(bad_text.find("fail-if errors>+2: HOLDS (errors +3: 1 -> 4)\n"), std::string::npos)
      << bad_text;
}

TEST_F(CompareFiles, EndToEndRowsAndSinkWarning) {
  const std::string base = write("a.json", result("mqtt", 1000, 100, kMilli, 0, 100).dump());
  const std::string now = write("b.json", result("nats", 1000, 100, kMilli, 0, 100).dump());
  const std::string plain = write("c.json", result("nats", 1000, 100, kMilli, 0).dump());

  auto [text, rc] = compare({base, now, "--fail-if", "e2e_p99>+0us"});
  EXPECT_EQ(rc, 0);
  EXPECT_NE(text.find("warning: different sinks (mqtt vs nats)"), std::string::npos) << text;
  EXPECT_NE(text.find("\ne2e_p50 "), std::string::npos) << text;
  EXPECT_NE(text.find("\ne2e_p99 "), std::string::npos) << text;

  EXPECT_EQ(std::get<0>(compare({base, plain})).find("e2e_p50"), std::string::npos);
  EXPECT_EQ(error_of({base, plain, "--fail-if", "e2e_p50>1ms"}),
            "--fail-if: \"e2e_p50>1ms\": \"" + plain +
                "\" has no end-to-end latency (histograms.e2e is empty)");
}

TEST_F(CompareFiles, BadArgumentsAndFiles) {
  const std::string good = write("good.json", result("tcp", 1000, 100, kMilli, 0).dump());
  const std::string missing = dir_ + "/missing.json";
  const std::string other = write("other.json", R"({"name": "something else"})");
  const std::string garbage = write("garbage.json", "{not json");
  json partial = result("tcp", 1000, 100, kMilli, 0);
  partial["histograms"]["latency"]["percentiles"].erase("p99.9");
  const std::string incomplete = write("incomplete.json", partial.dump());
  json future = result("tcp", 1000, 100, kMilli, 0);
  future["format"] = 2;
  const std::string newer = write("newer.json", future.dump());

  EXPECT_EQ(error_of({good, missing}),
            "compare: cannot read \"" + missing + "\": No such file or directory");
  EXPECT_EQ(error_of({good, dir_}), "compare: cannot read \"" + dir_ + "\": Is a directory");
  EXPECT_EQ(error_of({other, good}), "compare: \"" + other +
                                         "\" is not a load-tester result file (no \"tool\": "
                                         "\"load-tester\")");
  EXPECT_EQ(error_of({good, garbage}),
            "compare: \"" + garbage + "\" is not a load-tester result file (not JSON)");
  EXPECT_EQ(error_of({good, incomplete}), "compare: \"" + incomplete +
                                              "\" is not a load-tester result file (no number at "
                                              "/histograms/latency/percentiles/p99.9)");
  EXPECT_EQ(error_of({newer, good}),
            "compare: \"" + newer + "\" has result format 2; this load-tester reads 1");
  EXPECT_EQ(error_of({good}), "compare: expected two result files, got 1");
  EXPECT_EQ(error_of({}), "compare: expected two result files, got 0");
  EXPECT_EQ(error_of({good, good, good}), "compare: expected two result files, got 3");
  EXPECT_EQ(error_of({good, good, "--fail-if"}),
            "--fail-if: expected a condition like 'p99>+10%' after it");
  EXPECT_EQ(error_of({good, good, "--fail"}), "compare: unknown option \"--fail\"");
  EXPECT_EQ(error_of({good, good, "--fail-if=p99>5"}).substr(0, 30),
            "--fail-if: bad value \"5\" in \"p");
}

}  // namespace
}  // namespace lt
