#include "core/schedule.hpp"

namespace lt {

Schedule::Schedule(const ScheduleShape& shape, Nanos origin)
    : shape_(shape),
      origin_(origin),
      rng_(shape.seed * 0x9E3779B97F4A7C15ULL + shape.first_device) {
  if (shape_.poisson && shape_.local_devices > 0) {
    // The worker's share of the total rate, in events per nanosecond.
    double share = shape_.total_rate.per_second() * double(shape_.local_devices) /
                   double(shape_.total_devices);
    gap_ = std::exponential_distribution<double>(share / double(kSecond));
    poisson_time_ = gap_(rng_);
  }
  compute();
}

void Schedule::advance() {
  ++j_;
  if (shape_.poisson) poisson_time_ += gap_(rng_);
  compute();
}

void Schedule::seek(std::uint64_t j) {
  j_ = j;
  compute();
}

void Schedule::compute() {
  const std::uint64_t n = shape_.local_devices;
  if (n == 0) {
    next_ = Tick{0, 0, INT64_MAX};
    return;
  }
  const std::uint64_t k = j_ / n;
  const std::uint32_t i = std::uint32_t(j_ % n);
  next_.local_device = i;
  next_.seq = k;
  if (shape_.poisson) {
    next_.intended = origin_ + Nanos(poisson_time_);
  } else {
    const std::uint64_t g = device_id(i) + k * shape_.total_devices;
    next_.intended = origin_ + shape_.total_rate.tick_offset(g);
  }
}

std::uint64_t Schedule::ticks_before(Nanos end) const {
  const std::uint64_t n = shape_.local_devices;
  if (n == 0) return 0;
  // Global ticks before `end`, then those that land on this worker's residue class.
  const std::uint64_t global = shape_.total_rate.ticks_before(end - origin_);
  const std::uint64_t N = shape_.total_devices;
  const std::uint64_t full_periods = global / N;
  const std::uint64_t rest = global % N;  // ticks 0..rest-1 of the last, partial period
  std::uint64_t in_rest = 0;
  if (rest > shape_.first_device) {
    in_rest = (rest - shape_.first_device - 1) / shape_.stride + 1;
    if (in_rest > n) in_rest = n;
  }
  return full_periods * n + in_rest;
}

}  // namespace lt
