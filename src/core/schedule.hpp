#pragma once
// The schedule of one worker: which of its devices sends next, and when it was meant to.
//
// Globally, tick g (0, 1, 2, ...) happens at origin + g/R (R = total rate) and belongs to device
// g mod N. Device d therefore sends at origin + d/R + k*N/R: its own constant interval with a
// phase that spreads devices evenly. A worker owns the devices d = first + i*stride; because every
// phase d/R is smaller than the period N/R, its ticks in time order are simply (k, i) in
// lexicographic order, so one counter j = k*n + i walks them, and each tick time is computed
// from the absolute tick index: nothing accumulates, nothing drifts.
//
// Poisson arrivals draw exponential gaps at the worker's share of the rate from the same origin,
// handing ticks to the worker's devices in turn.
#include <cstdint>
#include <random>

#include "core/rate.hpp"
#include "core/time.hpp"

namespace lt {

struct Tick {
  std::uint32_t local_device;  // index into the worker's devices
  std::uint64_t seq;           // the device's message number (k)
  Nanos intended;              // absolute time the message is due
};

struct ScheduleShape {
  Rate total_rate;              // R, all devices together
  std::uint64_t total_devices;  // N
  std::uint64_t first_device;   // global id of local device 0
  std::uint64_t stride;         // global id step between local devices
  std::uint32_t local_devices;  // n
  bool poisson = false;
  std::uint64_t seed = 1;
};

class Schedule {
 public:
  Schedule(const ScheduleShape& shape, Nanos origin);

  // The next tick, not yet consumed. Its time never decreases from one call to the next.
  const Tick& peek() const { return next_; }
  void advance();
  // Jumps to local tick j (constant arrivals): a late starter skips what it missed this way.
  void seek(std::uint64_t j);
  // Global id of a local device.
  std::uint64_t device_id(std::uint32_t local) const {
    return shape_.first_device + std::uint64_t(local) * shape_.stride;
  }
  // Ticks of this worker due strictly before `end` (constant arrivals only; exact).
  std::uint64_t ticks_before(Nanos end) const;

 private:
  void compute();

  ScheduleShape shape_;
  Nanos origin_;
  std::uint64_t j_ = 0;
  Tick next_{};
  // Poisson state: the running arrival time is kept in double ns (exact to the ns for ~100 days).
  std::mt19937_64 rng_;
  std::exponential_distribution<double> gap_;
  double poisson_time_ = 0;
};

}  // namespace lt
