#pragma once
// The built-in server's injected faults at run time: delays drawn per message, drops, and stall
// windows. Stalls are counted from the first traffic so that a test knows where they fall
// relative to its run, whenever the server was started.
#include <algorithm>
#include <random>

#include "cli/options.hpp"
#include "core/time.hpp"

namespace lt {

class Faults {
 public:
  explicit Faults(const ServeFaults& spec) : spec_(spec), rng_(spec.seed) {}

  bool delays() const { return spec_.delay_max > 0; }
  bool stalls() const { return spec_.stall > 0; }
  bool drops() const { return spec_.drop > 0; }

  Nanos draw_delay() {
    if (spec_.delay_min == spec_.delay_max) return spec_.delay_min;
    return std::uniform_int_distribution<Nanos>(spec_.delay_min, spec_.delay_max)(rng_);
  }
  bool draw_drop() { return std::uniform_real_distribution<double>(0, 1)(rng_) < spec_.drop; }

  // Fixes the origin of the stall periods; later calls do nothing.
  void traffic_seen(Nanos now) {
    if (origin_ == 0) origin_ = now;
  }

  // Each period of --stall-every ends with a stall of --stall: [end - stall, end). Returns when
  // the stall covering `now` ends, or 0 when `now` is not in one.
  Nanos stalled_until(Nanos now) const {
    if (!stalls() || origin_ == 0 || now < origin_) return 0;
    const Nanos into = (now - origin_) % spec_.stall_every;
    if (into < spec_.stall_every - spec_.stall) return 0;
    return now - into + spec_.stall_every;
  }
  // Start of the next stall after `now` (INT64_MAX when none are configured or traffic has not
  // started).
  Nanos next_stall(Nanos now) const {
    if (!stalls() || origin_ == 0) return INT64_MAX;
    if (now < origin_) return origin_ + spec_.stall_every - spec_.stall;
    const Nanos period_start = now - (now - origin_) % spec_.stall_every;
    const Nanos start = period_start + spec_.stall_every - spec_.stall;
    return start > now ? start : start + spec_.stall_every;
  }

 private:
  ServeFaults spec_;
  std::mt19937_64 rng_;
  Nanos origin_ = 0;
};

}  // namespace lt
