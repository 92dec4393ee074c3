#pragma once
// `load-tester compare BASE.json NEW.json [--fail-if COND]...`: two result files side by side,
// and conditions on their difference that turn into an exit code, so a CI job can refuse a
// change that made p99 worse.
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace lt {

enum class CompareMetric {
  Rate,
  Sent,
  Completed,
  Missed,
  Lost,
  Errors,
  P50,
  P90,
  P99,
  P999,
  P9999,
  Max,
  Mean,
  E2eP50,
  E2eP99,
};
inline constexpr std::size_t kCompareMetricCount = 15;

// The kind decides how a value is printed and which --fail-if values it accepts.
enum class MetricKind { Rate, Count, Latency };

struct MetricInfo {
  std::string_view name;  // the row label, and the METRIC of --fail-if
  MetricKind kind;
};
const MetricInfo& metric_info(CompareMetric m);

// One result file, reduced to what compare prints. Values are doubles: counts and nanoseconds
// stay exact far beyond any real run (2^53), and the rate and mean are fractional anyway.
struct ResultSummary {
  std::string path;
  std::string sink;
  std::int64_t devices = 0;
  double target_rate = 0;  // 0: closed loop (or not recorded)
  std::int64_t duration_ns = 0;
  std::int64_t start_unix_ns = 0;  // 0: not recorded
  bool interrupted = false;
  bool has_e2e = false;  // histograms.e2e.count > 0
  std::array<double, kCompareMetricCount> values{};

  double value(CompareMetric m) const { return values[std::size_t(m)]; }
};

// Throws UsageError naming the file when it cannot be read or is not a result file.
ResultSummary read_summary(const std::string& path);

enum class CompareOp { Greater, GreaterEqual, Less, LessEqual };

// What VALUE in METRIC OP VALUE stands for, told apart by its form: "+10%" / "-5%", "+2ms" /
// "-100" (signed), "50ms" / "0" (unsigned).
enum class Threshold { Relative, Absolute, Value };

struct FailIf {
  std::string text;  // as given, for the report line
  CompareMetric metric = CompareMetric::Rate;
  CompareOp op = CompareOp::Greater;
  Threshold threshold = Threshold::Value;
  double value = 0;  // percent for Relative; nanoseconds, messages or msg/s otherwise
};

// Throws UsageError ("--fail-if: ...") on anything but METRIC OP VALUE.
FailIf parse_fail_if(std::string_view text);

// Whether the condition holds for these two values of its metric.
bool evaluate(const FailIf& cond, double base, double now);

// `args` are the words after "compare". Writes the table and one line per condition to `out`;
// returns 1 when any condition holds, else 0. Throws UsageError on bad arguments or files.
int run_compare(const std::vector<std::string>& args, std::FILE* out);

}  // namespace lt
