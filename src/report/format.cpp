#include "report/format.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <ctime>

namespace lt {

std::string format_duration(Nanos ns) {
  const double v = double(ns);
  // -INT64_MIN does not exist: one nanosecond off is what it can print.
  if (ns < 0) return "-" + format_duration(ns == INT64_MIN ? INT64_MAX : -ns);
  if (ns < kMicro) return fmt::format("{}ns", ns);
  if (ns < kMilli) return fmt::format("{:.1f}us", v / 1e3);
  if (ns < kSecond) return fmt::format("{:.2f}ms", v / 1e6);
  return fmt::format("{:.2f}s", v / 1e9);
}

std::string format_rate(double r) {
  if (r >= 1e6) return fmt::format("{:.3f}M/s", r / 1e6);
  if (r >= 100 || r == std::floor(r)) return fmt::format("{:.0f}/s", r);
  return fmt::format("{:.2f}/s", r);
}

std::string format_utc(Nanos unix_ns) {
  const std::time_t t = std::time_t(unix_ns / kSecond);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, unix_ns % kSecond / kMilli);
}
}  // namespace lt
