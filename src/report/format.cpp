#include "report/format.hpp"

#include <fmt/format.h>

#include <cmath>

namespace lt {

std::string format_duration(Nanos ns) {
  const double v = double(ns);
  if (ns < 0) return "-" + format_duration(-ns);
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

}  // namespace lt
