// The built-in server's fault timing and echo ordering, on simulated time.
#include <gtest/gtest.h>

#include "serve/echo_queue.hpp"
#include "serve/faults.hpp"

namespace lt {
namespace {

ServeFaults stalls(Nanos stall, Nanos every) {
  ServeFaults f;
  f.stall = stall;
  f.stall_every = every;
  return f;
}

TEST(Faults, StallsCloseEveryPeriodCountedFromFirstTraffic) {
  Faults f(stalls(kSecond, 10 * kSecond));
  EXPECT_EQ(f.stalled_until(50 * kSecond), 0);  // no traffic yet: no stalls
  EXPECT_EQ(f.next_stall(50 * kSecond), INT64_MAX);
  const Nanos t0 = 100 * kSecond;
  f.traffic_seen(t0);
  f.traffic_seen(t0 + 5 * kSecond);  // the origin stays
  EXPECT_EQ(f.stalled_until(t0), 0);
  EXPECT_EQ(f.stalled_until(t0 + 9 * kSecond - 1), 0);
  EXPECT_EQ(f.stalled_until(t0 + 9 * kSecond), t0 + 10 * kSecond);
  EXPECT_EQ(f.stalled_until(t0 + 10 * kSecond - 1), t0 + 10 * kSecond);
  EXPECT_EQ(f.stalled_until(t0 + 10 * kSecond), 0);
  EXPECT_EQ(f.stalled_until(t0 + 19 * kSecond + 5), t0 + 20 * kSecond);
  EXPECT_EQ(f.next_stall(t0), t0 + 9 * kSecond);
  EXPECT_EQ(f.next_stall(t0 + 9 * kSecond), t0 + 19 * kSecond);  // in one: the next one
  EXPECT_EQ(f.next_stall(t0 + 12 * kSecond), t0 + 19 * kSecond);
}

TEST(Faults, StalledTimeIsTheConfiguredShare) {
  Faults f(stalls(300 * kMilli, 2 * kSecond));
  f.traffic_seen(1);
  std::int64_t stalled = 0, total = 0;
  for (Nanos t = 1; t < 1 + 20 * kSecond; t += kMilli, ++total) stalled += f.stalled_until(t) != 0;
  EXPECT_EQ(stalled * 2000, total * 300);
}

TEST(Faults, DelaysStayInTheirRangeAndDropsNearTheirShare) {
  ServeFaults spec;
  spec.delay_min = kMilli;
  spec.delay_max = 3 * kMilli;
  spec.drop = 0.1;
  Faults f(spec);
  Nanos lo = INT64_MAX, hi = 0;
  int dropped = 0;
  for (int i = 0; i < 100'000; ++i) {
    const Nanos d = f.draw_delay();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    dropped += f.draw_drop();
  }
  EXPECT_GE(lo, kMilli);
  EXPECT_LE(hi, 3 * kMilli);
  EXPECT_LT(lo, kMilli + 10 * kMicro);  // the whole range is used
  EXPECT_GT(hi, 3 * kMilli - 10 * kMicro);
  EXPECT_NEAR(dropped, 10'000, 400);
}

TEST(EchoQueue, HeldBytesGoOutInOrderAtTheirDueTimes) {
  EchoQueue q;
  const unsigned char a[] = {1, 2, 3, 4, 5, 6};
  q.append(a, 6);
  q.hold(2, 100);  // first frame: bytes 0..1 due at 100
  q.hold(4, 50);   // a shorter draw cannot overtake: due at 100 too
  q.hold(6, 300);
  EXPECT_EQ(q.next_due(), 100);
  q.release(99);
  EXPECT_EQ(q.sendable_size(), 0u);
  q.release(100);
  ASSERT_EQ(q.sendable_size(), 4u);
  EXPECT_EQ(q.sendable()[0], 1);
  q.consume(3);
  EXPECT_EQ(q.sendable_size(), 1u);
  EXPECT_EQ(q.sendable()[0], 4);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.next_due(), 300);
  const unsigned char b[] = {7, 8};
  q.append(b, 2);  // a partial frame: not cut yet, so not sendable even when all else is
  q.release(1000);
  EXPECT_EQ(q.sendable_size(), 3u);
  q.consume(3);
  EXPECT_EQ(q.size(), 2u);
  q.release_all();
  ASSERT_EQ(q.sendable_size(), 2u);
  EXPECT_EQ(q.sendable()[1], 8);
  EXPECT_EQ(q.next_due(), INT64_MAX);
}

}  // namespace
}  // namespace lt
