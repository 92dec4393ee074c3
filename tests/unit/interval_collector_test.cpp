#include "engine/interval_collector.hpp"

#include <gtest/gtest.h>

namespace lt {
namespace {

IntervalReport report(std::uint64_t index, bool final, std::uint64_t sent) {
  IntervalReport r{index, final, 1, Recorder{}};
  r.data.counters[Counter::Sent] = sent;
  r.data.latency.record(Nanos(sent));
  return r;
}

TEST(IntervalCollector, EmitsAnIntervalOnlyWhenEveryWorkerReportedIt) {
  IntervalCollector c(2);
  c.add(0, report(0, false, 5));
  EXPECT_FALSE(c.next_complete());
  c.add(1, report(0, false, 7));
  auto r = c.next_complete();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->index, 0u);
  EXPECT_EQ(r->data.counters[Counter::Sent], 12u);
  EXPECT_EQ(r->data.latency.total_count(), 2u);
  EXPECT_EQ(r->connected, 2u);
  EXPECT_FALSE(c.next_complete());
}

TEST(IntervalCollector, AFinishedWorkerNoLongerHoldsLaterIntervalsBack) {
  IntervalCollector c(2);
  c.add(0, report(0, true, 1));  // worker 0 ended in interval 0
  c.add(1, report(0, false, 2));
  c.add(1, report(1, true, 3));
  EXPECT_EQ(c.next_complete()->data.counters[Counter::Sent], 3u);
  EXPECT_EQ(c.next_complete()->data.counters[Counter::Sent], 3u);
  EXPECT_FALSE(c.next_complete());
  EXPECT_TRUE(c.all_finished());
}

}  // namespace
}  // namespace lt
