#include "engine/backlog.hpp"

#include <gtest/gtest.h>

namespace lt {
namespace {

TEST(Backlog, KeepsOrderAndRefusesPastCapacity) {
  Backlog b;
  EXPECT_TRUE(b.empty());
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_TRUE(b.push({i, Nanos(i * 10)}, 4));
  EXPECT_FALSE(b.push({9, 90}, 4));
  EXPECT_EQ(b.size(), 4u);
  b.pop();
  EXPECT_TRUE(b.push({4, 40}, 4));  // wraps around the ring
  for (std::uint64_t i = 1; i <= 4; ++i) {
    EXPECT_EQ(b.front().seq, i);
    EXPECT_EQ(b.front().intended, Nanos(i * 10));
    b.pop();
  }
  EXPECT_TRUE(b.empty());
}

TEST(Backlog, ZeroCapacityCountsEverythingAsMissed) {
  Backlog b;
  EXPECT_FALSE(b.push({0, 0}, 0));
  EXPECT_TRUE(b.empty());
}

}  // namespace
}  // namespace lt
