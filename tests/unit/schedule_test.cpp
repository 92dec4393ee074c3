// The schedule on simulated time: exact counts, the global striping, no drift, Poisson mean.
#include "core/schedule.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace lt {
namespace {

constexpr Nanos kOrigin = 1'000'000'000'000;  // arbitrary non-zero monotonic origin

ScheduleShape shard(Rate r, std::uint64_t n, std::uint64_t w, std::uint64_t workers) {
  return ScheduleShape{r, n, w, workers, std::uint32_t((n - w + workers - 1) / workers)};
}

// Exact time of global tick g, computed independently of Rate::tick_offset.
Nanos exact(Rate r, std::uint64_t g) {
  u128 num = u128(g) * 1'000'000'000u * r.den;
  return kOrigin + Nanos(num / r.num);
}

TEST(Schedule, ThousandDevicesAtHundredPerSecondSendExactlyAMillionInTenSeconds) {
  ScheduleShape s = shard(Rate{100, 1}.times(1000), 1000, 0, 1);
  Schedule sched(s, kOrigin);
  std::uint64_t count = 0;
  std::vector<std::uint64_t> per_device(1000);
  while (sched.peek().intended < kOrigin + 10 * kSecond) {
    ++per_device[sched.peek().local_device];
    ++count;
    sched.advance();
  }
  EXPECT_EQ(count, 1'000'000u);
  EXPECT_EQ(sched.ticks_before(kOrigin + 10 * kSecond), 1'000'000u);
  for (auto n : per_device) ASSERT_EQ(n, 1000u);
}

TEST(Schedule, WorkersTogetherReproduceTheGlobalScheduleExactly) {
  const Rate total{7, 3};  // 2.333.../s: not a whole number of ns per tick
  const std::uint64_t n = 10, workers = 3;
  struct Seen {
    Nanos t;
    std::uint64_t device, seq;
  };
  std::vector<Seen> all;
  for (std::uint64_t w = 0; w < workers; ++w) {
    Schedule sched(shard(total, n, w, workers), kOrigin);
    Nanos last = 0;
    for (int i = 0; i < 3000; ++i) {
      const Tick& t = sched.peek();
      ASSERT_GE(t.intended, last);
      last = t.intended;
      all.push_back({t.intended, sched.device_id(t.local_device), t.seq});
      sched.advance();
    }
  }
  std::sort(all.begin(), all.end(), [](const Seen& a, const Seen& b) { return a.t < b.t; });
  for (std::uint64_t g = 0; g < 6000; ++g) {
    ASSERT_EQ(all[g].t, exact(total, g)) << "tick " << g;
    ASSERT_EQ(all[g].device, g % n) << "tick " << g;
    ASSERT_EQ(all[g].seq, g / n) << "tick " << g;
  }
}

TEST(Schedule, NoDriftAfterABillionTicks) {
  const Rate total{1, 3};  // one tick every 3 s: 3e18 ns after 1e9 ticks, exactly
  Schedule sched(shard(total, 1, 0, 1), kOrigin);
  sched.seek(1'000'000'000);
  EXPECT_EQ(sched.peek().intended, kOrigin + Nanos(3'000'000'000'000'000'000));

  const Rate odd{1'000'000'007, 1000};  // 1,000,000.007/s: never a whole number of ns
  Schedule fast(shard(odd, 7, 0, 1), kOrigin);
  fast.seek(999'999'999);
  fast.advance();
  EXPECT_EQ(fast.peek().intended, exact(odd, 1'000'000'000));
  // Walking 10 million ticks one by one lands on the same exact times as jumping there.
  Schedule walk(shard(odd, 7, 0, 1), kOrigin);
  for (int i = 0; i < 10'000'000; ++i) walk.advance();
  EXPECT_EQ(walk.peek().intended, exact(odd, 10'000'000));
}

TEST(Schedule, TicksBeforeMatchesWalkingTheSchedule) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const std::uint64_t n = 1 + rng() % 50, workers = 1 + rng() % 4;
    const Rate total{1 + rng() % 5000, 1 + rng() % 7};
    const std::uint64_t w = rng() % workers;
    if (w >= n) continue;
    Schedule sched(shard(total, n, w, workers), kOrigin);
    const Nanos end = kOrigin + Nanos(rng() % (3 * kSecond));
    std::uint64_t walked = 0;
    while (sched.peek().intended < end) {
      ++walked;
      sched.advance();
    }
    ASSERT_EQ(sched.ticks_before(end), walked) << "trial " << trial;
  }
}

TEST(Schedule, FractionalPerDeviceRateKeepsItsPeriod) {
  // 3 devices at 0.5 msg/s each: every device sends every 2 s, phases 2/3 s apart.
  Schedule sched(shard(Rate{1, 2}.times(3), 3, 0, 1), kOrigin);
  std::vector<Nanos> expect = {0, 666'666'666, 1'333'333'333, 2'000'000'000, 2'666'666'666};
  for (Nanos e : expect) {
    EXPECT_EQ(sched.peek().intended - kOrigin, e);
    sched.advance();
  }
}

TEST(Schedule, PoissonArrivalsHaveTheTargetMean) {
  ScheduleShape s = shard(Rate{10'000, 1}, 100, 0, 1);
  s.poisson = true;
  s.seed = 42;
  Schedule sched(s, kOrigin);
  const int n = 1'000'000;
  double sum_sq = 0;
  Nanos prev = kOrigin;
  std::vector<std::uint64_t> per_device(100);
  for (int i = 0; i < n; ++i) {
    const Nanos gap = sched.peek().intended - prev;
    ASSERT_GE(gap, 0);
    sum_sq += double(gap) * double(gap);
    prev = sched.peek().intended;
    ++per_device[sched.peek().local_device];
    sched.advance();
  }
  const double mean = double(prev - kOrigin) / n;
  EXPECT_NEAR(mean, 100'000.0, 100'000.0 * 0.005);  // 100 us at 10k/s; sd of mean is 0.1%
  // Exponential gaps: the standard deviation equals the mean.
  const double sd = std::sqrt(sum_sq / n - mean * mean);
  EXPECT_NEAR(sd / mean, 1.0, 0.01);
  for (auto c : per_device) EXPECT_EQ(c, 10'000u);
}

TEST(Schedule, WorkerWithoutDevicesNeverFires) {
  Schedule sched(ScheduleShape{Rate{10, 1}, 1, 1, 2, 0}, kOrigin);
  EXPECT_EQ(sched.peek().intended, INT64_MAX);
  EXPECT_EQ(sched.ticks_before(kOrigin + kSecond), 0u);
}

}  // namespace
}  // namespace lt
