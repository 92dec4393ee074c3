#pragma once
// What one worker measures during one reporting interval: counters and three histograms.
// Owned by a single thread; the worker hands whole intervals to the reporter (see Mailbox).
#include <memory>

#include "core/time.hpp"
#include "metrics/counters.hpp"
#include "metrics/hdr_histogram.hpp"

namespace lt {

struct Recorder {
  Counters counters;
  HdrHistogram latency;   // intended send time -> completion (coordinated-omission free)
  HdrHistogram service;   // actual send -> completion
  HdrHistogram lateness;  // intended send time -> actual send

  void count(Counter c, std::uint64_t n = 1) { counters[c] += n; }
  void sent(Nanos intended, Nanos now, std::uint64_t bytes) {
    counters[Counter::Sent] += 1;
    counters[Counter::BytesSent] += bytes;
    lateness.record(now - intended);
  }
  void completed(Nanos intended, Nanos sent_at, Nanos now) {
    counters[Counter::Completed] += 1;
    latency.record(now - intended);
    service.record(now - sent_at);
  }
  void add(const Recorder& o) {
    counters.add(o.counters);
    latency.add(o.latency);
    service.add(o.service);
    lateness.add(o.lateness);
  }
  void reset() {
    counters = Counters{};
    latency.reset();
    service.reset();
    lateness.reset();
  }
};

}  // namespace lt
