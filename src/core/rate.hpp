#pragma once
// An exact rational rate (events per second). Kept as a fraction so that tick times are computed
// exactly from the tick index: t(g) = g * 1e9 * den / num, with no rounding that accumulates.
#include <cstdint>

#include "core/time.hpp"

namespace lt {

// 128-bit intermediate for exact tick arithmetic (GCC/Clang extension, hence the marker).
__extension__ typedef unsigned __int128 u128;

struct Rate {
  std::uint64_t num = 0;  // events per `den` seconds
  std::uint64_t den = 1;

  double per_second() const { return den ? double(num) / double(den) : 0.0; }
  bool positive() const { return num > 0 && den > 0; }
  Rate times(std::uint64_t k) const { return Rate{num * k, den}; }
  // Offset of tick g from the schedule origin, rounded down to the nanosecond.
  Nanos tick_offset(std::uint64_t g) const {
    return Nanos(static_cast<u128>(g) * kSecond * den / num);
  }
  // Ticks whose offset lies strictly before `span` (how many fit in [0, span)).
  std::uint64_t ticks_before(Nanos span) const {
    if (span <= 0) return 0;
    // smallest g with g*1e9*den >= span*num, i.e. ceil(span*num / (1e9*den))
    u128 a = static_cast<u128>(span) * num;
    u128 b = static_cast<u128>(kSecond) * den;
    return std::uint64_t((a + b - 1) / b);
  }
};

}  // namespace lt
