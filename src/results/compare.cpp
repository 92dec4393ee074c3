#include "results/compare.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/options.hpp"
#include "cli/units.hpp"
#include "report/format.hpp"
#include "report/result_json.hpp"
#include "results/result_file.hpp"

namespace lt {

using nlohmann::json;

namespace {

struct MetricSource {
  MetricInfo info;
  const char* pointer;  // where the value lives in a result file; "" for the computed sum
};

// In the order of the CompareMetric enumerators, which is also the order of the table rows.
const std::array<MetricSource, kCompareMetricCount> kMetrics = {{
    {{"rate", MetricKind::Rate}, "/rate/achieved"},
    {{"sent", MetricKind::Count}, "/counters/sent"},
    {{"completed", MetricKind::Count}, "/counters/completed"},
    {{"missed", MetricKind::Count}, "/counters/missed"},
    {{"lost", MetricKind::Count}, "/counters/lost"},
    {{"errors", MetricKind::Count}, ""},
    {{"p50", MetricKind::Latency}, "/histograms/latency/percentiles/p50"},
    {{"p90", MetricKind::Latency}, "/histograms/latency/percentiles/p90"},
    {{"p99", MetricKind::Latency}, "/histograms/latency/percentiles/p99"},
    {{"p99.9", MetricKind::Latency}, "/histograms/latency/percentiles/p99.9"},
    {{"p99.99", MetricKind::Latency}, "/histograms/latency/percentiles/p99.99"},
    {{"max", MetricKind::Latency}, "/histograms/latency/max"},
    {{"mean", MetricKind::Latency}, "/histograms/latency/mean"},
    {{"e2e_p50", MetricKind::Latency}, "/histograms/e2e/percentiles/p50"},
    {{"e2e_p99", MetricKind::Latency}, "/histograms/e2e/percentiles/p99"},
}};

bool is_e2e(CompareMetric m) {
  return m == CompareMetric::E2eP50 || m == CompareMetric::E2eP99;
}

std::string metric_names() {
  std::string names;
  for (const auto& m : kMetrics) names += (names.empty() ? "" : ", ") + std::string(m.info.name);
  return names;
}

// ---- reading result files ----

[[noreturn]] void not_a_result(const std::string& path, std::string_view why) {
  results::not_a_result("compare", path, why);
}

std::optional<double> number_at(const json& j, const char* pointer) {
  const json::json_pointer p(pointer);
  if (!j.contains(p) || !j.at(p).is_number()) return std::nullopt;
  return j.at(p).get<double>();
}

// Summed by prefix rather than from a fixed list, so error kinds added later still count. Called
// once "counters" is known to be an object (its "sent" was read). Huge counts can add up to
// infinity, which would print as a change of "nan" even against the same file.
double sum_errors(const json& j, const std::string& path) {
  double sum = 0;
  for (const auto& [name, value] : j.at("counters").items())
    if (name.starts_with("err_") && value.is_number()) sum += value.get<double>();
  if (!std::isfinite(sum)) not_a_result(path, "the err_ counters add up beyond a double");
  return sum;
}

// Absent is 0. nlohmann's get<std::int64_t>() casts a double unchecked (undefined behaviour out of
// range) and wraps an unsigned above INT64_MAX; other types throw json::type_error.
std::int64_t integer(const json& object, const char* key, const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end()) return 0;
  const bool fits = it->is_number_unsigned() ? it->get<std::uint64_t>() <= INT64_MAX
                    : it->is_number_float()
                        ? it->get<double>() >= -0x1p63 && it->get<double>() < 0x1p63
                        : true;
  if (!fits) not_a_result(path, fmt::format("\"{}\" is out of range", key));
  return it->get<std::int64_t>();
}

void read_header(const json& j, ResultSummary& r) {
  const json& options = results::member(j, "options");
  const json& run = results::member(j, "run");
  if (!options.is_object() || !run.is_object()) return;
  r.sink = options.value("sink", std::string());
  r.devices = integer(options, "devices", r.path);
  const json& rate = results::member(options, "rate");
  r.target_rate = rate.is_number() ? rate.get<double>() : 0.0;
  r.duration_ns = integer(options, "duration_ns", r.path);
  r.start_unix_ns = integer(run, "start_unix_ns", r.path);
  r.interrupted = run.value("interrupted", false);
}

}  // namespace

const MetricInfo& metric_info(CompareMetric m) {
  return kMetrics[std::size_t(m)].info;
}

ResultSummary read_summary(const std::string& path) {
  const json j = results::read_result(path, "compare");
  ResultSummary r;
  r.path = path;
  try {
    read_header(j, r);
  } catch (const json::exception&) {
    not_a_result(path, "malformed \"options\" or \"run\"");
  }
  const auto e2e_count = number_at(j, "/histograms/e2e/count");
  r.has_e2e = e2e_count && *e2e_count > 0;
  for (std::size_t i = 0; i < kMetrics.size(); ++i) {
    const auto& source = kMetrics[i];
    if (source.pointer[0] == '\0') continue;
    if (is_e2e(CompareMetric(i)) && !r.has_e2e) continue;
    const auto v = number_at(j, source.pointer);
    if (!v) not_a_result(path, fmt::format("no number at {}", source.pointer));
    r.values[i] = *v;
  }
  r.values[std::size_t(CompareMetric::Errors)] = sum_errors(j, path);
  return r;
}

// ---- --fail-if ----

namespace {

[[noreturn]] void grammar_error(std::string_view text) {
  throw UsageError{
      fmt::format("--fail-if: expected METRIC OP VALUE like 'p99>+10%' (metrics: {}), got \"{}\"",
                  metric_names(), text)};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::optional<CompareMetric> find_metric(std::string_view name) {
  for (std::size_t i = 0; i < kMetrics.size(); ++i)
    if (kMetrics[i].info.name == name) return CompareMetric(i);
  return std::nullopt;
}

// "12", "1.5", ".5": digits only, because strtod and from_chars alone would also take "inf",
// "nan", "1e3" and hex, none of which anyone means in a threshold.
std::optional<double> parse_decimal(std::string_view s) {
  const auto dot = s.find('.');
  if (s.empty() || s.back() == '.' || s == ".") return std::nullopt;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!(std::isdigit(static_cast<unsigned char>(s[i])) || i == dot)) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// A bare number is seconds to parse_duration but nanoseconds in the result file, so a
// latency without a unit is ambiguous; only 0 means the same either way.
std::optional<double> parse_latency(std::string_view s) {
  if (const auto plain = parse_decimal(s)) {
    if (*plain == 0) return 0.0;
    return std::nullopt;
  }
  const auto ns = parse_duration(s);
  if (!ns) return std::nullopt;
  return double(*ns);
}

std::string value_hint(MetricKind kind) {
  switch (kind) {
    case MetricKind::Latency:
      return "a latency takes +N% or -N% (relative change), +D or -D (absolute change) or D "
             "(new value), D a duration with its unit like 2ms";
    case MetricKind::Rate:
      return "a rate takes +N% or -N% (relative change), +N or -N (absolute change, msg/s) or "
             "N (new value, msg/s)";
    case MetricKind::Count:
      break;
  }
  return "a count takes +N% or -N% (relative change), +N or -N (absolute change) or N (new "
         "value)";
}

[[noreturn]] void value_error(std::string_view text, std::string_view value, std::string_view why) {
  throw UsageError{fmt::format("--fail-if: bad value \"{}\" in \"{}\": {}", value, text, why)};
}

void parse_threshold(std::string_view text, std::string_view value, FailIf& c) {
  const MetricKind kind = metric_info(c.metric).kind;
  const bool signed_value = value.front() == '+' || value.front() == '-';
  const double sign = value.front() == '-' ? -1.0 : 1.0;
  std::string_view body = signed_value ? value.substr(1) : value;
  if (body.ends_with('%')) {
    // Unsigned, it would read as "the new value is N%", which means nothing.
    if (!signed_value)
      value_error(text, value, fmt::format("a percentage is a change: give its sign, +{}", body));
    const auto pct = parse_decimal(body.substr(0, body.size() - 1));
    if (!pct) value_error(text, value, value_hint(kind));
    c.threshold = Threshold::Relative;
    c.value = sign * *pct;
    return;
  }
  const auto v = kind == MetricKind::Latency ? parse_latency(body) : parse_decimal(body);
  if (!v) value_error(text, value, value_hint(kind));
  c.threshold = signed_value ? Threshold::Absolute : Threshold::Value;
  c.value = sign * *v;
}

bool compare(double lhs, CompareOp op, double rhs) {
  switch (op) {
    case CompareOp::Greater:
      return lhs > rhs;
    case CompareOp::GreaterEqual:
      return lhs >= rhs;
    case CompareOp::Less:
      return lhs < rhs;
    case CompareOp::LessEqual:
      return lhs <= rhs;
  }
  return false;
}

}  // namespace

FailIf parse_fail_if(std::string_view text) {
  const auto op_at = text.find_first_of("<>");
  if (op_at == std::string_view::npos) grammar_error(text);
  FailIf c;
  c.text = std::string(text);
  std::size_t value_at = op_at + 1;
  const bool or_equal = value_at < text.size() && text[value_at] == '=';
  if (or_equal) ++value_at;
  if (text[op_at] == '>')
    c.op = or_equal ? CompareOp::GreaterEqual : CompareOp::Greater;
  else
    c.op = or_equal ? CompareOp::LessEqual : CompareOp::Less;
  const std::string_view name = trim(text.substr(0, op_at));
  const std::string_view value = trim(text.substr(value_at));
  // "p99=>1ms" or "p99==1ms" are operator typos, not metric names.
  if (name.empty() || value.empty() || name.find_first_of("=!") != std::string_view::npos)
    grammar_error(text);
  const auto metric = find_metric(name);
  if (!metric)
    throw UsageError{fmt::format("--fail-if: unknown metric \"{}\" in \"{}\" (metrics: {})", name,
                                 text, metric_names())};
  c.metric = *metric;
  parse_threshold(text, value, c);
  return c;
}

bool evaluate(const FailIf& cond, double base, double now) {
  switch (cond.threshold) {
    case Threshold::Value:
      return compare(now, cond.op, cond.value);
    case Threshold::Absolute:
      return compare(now - base, cond.op, cond.value);
    case Threshold::Relative:
      break;
  }
  // There is no relative change from zero. Any rise from zero is taken as larger than every
  // percentage, and nothing measured falls below zero: so > and >= hold exactly when the new
  // value is above zero, and < and <= never hold.
  if (base == 0)
    return (cond.op == CompareOp::Greater || cond.op == CompareOp::GreaterEqual) && now > 0;
  // Multiplied out rather than divided, so "+10%" from 100 to 110 is exactly at the threshold.
  return compare((now - base) * 100.0, cond.op, cond.value * std::abs(base));
}

// ---- the report ----

namespace {

// A latency read from a file is a double: beyond the range of Nanos llround's result is
// unspecified, so such a value is printed in seconds.
std::string format_latency(double ns) {
  if (std::abs(ns) < 0x1p63) return format_duration(Nanos(std::llround(ns)));
  return fmt::format("{:.3g}s", ns / 1e9);
}

std::string format_value(MetricKind kind, double v) {
  switch (kind) {
    case MetricKind::Rate:
      return format_rate(v);
    case MetricKind::Latency:
      return format_latency(v);
    case MetricKind::Count:
      break;
  }
  return fmt::format("{:.0f}", v);
}

// format_rate and format_duration are for magnitudes; the sign goes in front here.
std::string format_change(MetricKind kind, double diff) {
  const char* sign = diff > 0 ? "+" : diff < 0 ? "-" : "";
  return sign + format_value(kind, std::abs(diff));
}

std::string format_relative(double base, double now) {
  if (base == 0) return "n/a";
  return fmt::format("{:+.1f}%", (now - base) / std::abs(base) * 100.0);
}

std::string describe(const ResultSummary& r) {
  std::string s =
      fmt::format("{}: {}, {} devices, ", r.path, r.sink.empty() ? "?" : r.sink, r.devices);
  s += r.target_rate > 0 ? "target " + format_rate(r.target_rate) : "closed loop";
  s += ", " + format_duration(r.duration_ns);
  if (r.start_unix_ns > 0) s += ", started " + format_utc(r.start_unix_ns);
  if (r.interrupted) s += ", INTERRUPTED";
  return s;
}

void print_header(std::FILE* out, const ResultSummary& base, const ResultSummary& now) {
  fmt::print(out, "base  {}\nnew   {}\n", describe(base), describe(now));
  if (base.sink != now.sink)
    fmt::print(out, "warning: different sinks ({} vs {}): the rows measure different things\n",
               base.sink, now.sink);
}

constexpr const char* kRowFormat = "{:<10}{:>14}{:>14}{:>14}{:>10}\n";

void print_table(std::FILE* out, const ResultSummary& base, const ResultSummary& now) {
  fmt::print(out, "{:<10}{:>14}{:>14}{:>14}\n", "metric", "base", "new", "change");
  const bool e2e = base.has_e2e && now.has_e2e;
  for (std::size_t i = 0; i < kMetrics.size(); ++i) {
    const auto m = CompareMetric(i);
    if (is_e2e(m) && !e2e) continue;
    const MetricInfo& info = metric_info(m);
    const double b = base.value(m), n = now.value(m);
    fmt::print(out, kRowFormat, info.name, format_value(info.kind, b), format_value(info.kind, n),
               format_change(info.kind, n - b), format_relative(b, n));
  }
}

// The quantity the condition compared, then both values: "p99 +23.4%: 1.23ms -> 1.52ms".
std::string explain(const FailIf& c, double base, double now) {
  const MetricInfo& info = metric_info(c.metric);
  std::string quantity(info.name);
  if (c.threshold == Threshold::Relative) quantity += " " + format_relative(base, now);
  if (c.threshold == Threshold::Absolute) quantity += " " + format_change(info.kind, now - base);
  return fmt::format("{}: {} -> {}", quantity, format_value(info.kind, base),
                     format_value(info.kind, now));
}

bool report_condition(std::FILE* out, const FailIf& c, const ResultSummary& base,
                      const ResultSummary& now) {
  const double b = base.value(c.metric), n = now.value(c.metric);
  const bool holds = evaluate(c, b, n);
  fmt::print(out, "fail-if {}: {} ({})\n", c.text, holds ? "HOLDS" : "ok", explain(c, b, n));
  return holds;
}

struct CompareArgs {
  std::vector<std::string> files;
  std::vector<FailIf> conditions;
};

// Single-dash spellings too, as the main command line accepts them.
std::optional<std::string_view> inline_fail_if(std::string_view word) {
  for (std::string_view prefix : {"--fail-if=", "-fail-if="})
    if (word.starts_with(prefix)) return word.substr(prefix.size());
  return std::nullopt;
}

CompareArgs parse_args(const std::vector<std::string>& args) {
  CompareArgs a;
  bool only_files = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (only_files || word.empty() || word[0] != '-' || word == "-") {
      a.files.push_back(word);
    } else if (word == "--") {
      only_files = true;
    } else if (const auto cond = inline_fail_if(word)) {
      a.conditions.push_back(parse_fail_if(*cond));
    } else if (word == "--fail-if" || word == "-fail-if") {
      if (i + 1 == args.size())
        throw UsageError{"--fail-if: expected a condition like 'p99>+10%' after it"};
      a.conditions.push_back(parse_fail_if(args[++i]));
    } else {
      throw UsageError{fmt::format("compare: unknown option \"{}\"", word)};
    }
  }
  if (a.files.size() != 2)
    throw UsageError{fmt::format("compare: expected two result files, got {}", a.files.size())};
  return a;
}

// Checked before anything is printed, so a CI job never reads half a report as a pass.
void check_e2e(const FailIf& c, const ResultSummary& base, const ResultSummary& now) {
  if (!is_e2e(c.metric)) return;
  for (const ResultSummary* r : {&base, &now})
    if (!r->has_e2e)
      throw UsageError{fmt::format(
          "--fail-if: \"{}\": \"{}\" has no end-to-end latency (histograms.e2e is empty)", c.text,
          r->path)};
}

}  // namespace

int run_compare(const std::vector<std::string>& args, std::FILE* out) {
  const CompareArgs a = parse_args(args);
  const ResultSummary base = read_summary(a.files[0]);
  const ResultSummary now = read_summary(a.files[1]);
  for (const FailIf& c : a.conditions) check_e2e(c, base, now);
  print_header(out, base, now);
  fmt::print(out, "\n");
  print_table(out, base, now);
  if (!a.conditions.empty()) fmt::print(out, "\n");
  bool any = false;
  for (const FailIf& c : a.conditions) any = report_condition(out, c, base, now) || any;
  return any ? 1 : 0;
}

}  // namespace lt
