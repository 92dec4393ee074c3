// Reconnect backoff: doubling from 50 ms, capped at 2 s, each delay scaled into [0.5, 1) of its
// step so devices dropped together spread their reconnects out.
#include <gtest/gtest.h>

#include <set>

#include "net/socket_ops.hpp"

namespace lt {
namespace {

TEST(ReconnectDelay, DoublesToACapWithJitter) {
  std::uint64_t rng = 12345;
  for (unsigned attempt = 0; attempt < 40; ++attempt) {
    const Nanos step = std::min<Nanos>(50 * kMilli << std::min(attempt, 6u), 2 * kSecond);
    for (int i = 0; i < 200; ++i) {
      const Nanos d = reconnect_delay(attempt, rng);
      EXPECT_GE(d, step / 2) << attempt;
      EXPECT_LT(d, step) << attempt;
    }
  }
  // Never beyond the cap, however many attempts failed.
  EXPECT_LT(reconnect_delay(1'000'000, rng), 2 * kSecond);
}

TEST(ReconnectDelay, DevicesDroppedTogetherSpreadOut) {
  std::uint64_t rng = 1;
  std::set<Nanos> first_retries;
  for (int device = 0; device < 100; ++device) first_retries.insert(reconnect_delay(0, rng));
  EXPECT_GT(first_retries.size(), 95u);                                      // not in lockstep
  EXPECT_GT(*first_retries.rbegin() - *first_retries.begin(), 20 * kMilli);  // over the range
}

}  // namespace
}  // namespace lt
