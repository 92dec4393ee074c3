#pragma once
// Time is a signed count of nanoseconds everywhere: on the monotonic clock for scheduling and
// latency, on the realtime clock only for labels in result files.
#include <cstdint>
#include <ctime>

namespace lt {

using Nanos = std::int64_t;

inline constexpr Nanos kMicro = 1'000;
inline constexpr Nanos kMilli = 1'000'000;
inline constexpr Nanos kSecond = 1'000'000'000;

inline Nanos monotonic_now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Nanos{ts.tv_sec} * kSecond + ts.tv_nsec;
}

inline Nanos realtime_now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return Nanos{ts.tv_sec} * kSecond + ts.tv_nsec;
}

// Injected into everything that reads time, so schedule logic runs on simulated time in tests.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos now() const = 0;
};

class MonotonicClock final : public Clock {
 public:
  Nanos now() const override { return monotonic_now(); }
};

}  // namespace lt
