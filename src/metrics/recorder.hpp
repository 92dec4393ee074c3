#pragma once
// What one worker measures during one reporting interval: counters and six histograms.
// Owned by a single thread; the worker hands whole intervals to the reporter (see Mailbox).
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include "core/time.hpp"
#include "metrics/counters.hpp"
#include "metrics/hdr_histogram.hpp"

namespace lt {

struct Recorder {
  Counters counters;
  HdrHistogram latency;    // intended send time -> completion (coordinated-omission free)
  HdrHistogram service;    // actual send -> completion
  HdrHistogram lateness;   // intended send time -> actual send
  HdrHistogram connect;    // connection attempt begun -> established
  HdrHistogram handshake;  // TLS: established -> handshake done
  HdrHistogram e2e;        // subscribers: intended send time -> received by a subscriber
  // Errors by the protocol's own code ("delivery MSG_TIMED_OUT"), beside the counters' kinds.
  // Empty unless something failed, so copying whole intervals stays cheap.
  std::map<std::string, std::uint64_t> codes;
  // When the first and the last connection of the interval were established (connect rate).
  Nanos first_connect = INT64_MAX, last_connect = INT64_MIN;

  void count(Counter c, std::uint64_t n = 1) { counters[c] += n; }
  void sent(Nanos intended, Nanos now, std::uint64_t bytes) {
    counters[Counter::Sent] += 1;
    counters[Counter::BytesSent] += bytes;
    lateness.record(now - intended);
  }
  void completed(Nanos intended, Nanos sent_at, Nanos now) {
    counters[Counter::Completed] += 1;
    measured(intended, sent_at, now);
  }
  // Latency without the count: a sink that learns of completion later and in bulk (nats pub:
  // written now, confirmed by the next PONG) counts Completed then.
  void measured(Nanos intended, Nanos sent_at, Nanos now) {
    latency.record(now - intended);
    service.record(now - sent_at);
  }
  void connected(Nanos began, Nanos now) {
    counters[Counter::Connects] += 1;
    connect.record(now - began);
    first_connect = std::min(first_connect, now);
    last_connect = std::max(last_connect, now);
  }
  void add(const Recorder& o) {
    counters.add(o.counters);
    latency.add(o.latency);
    service.add(o.service);
    lateness.add(o.lateness);
    connect.add(o.connect);
    handshake.add(o.handshake);
    e2e.add(o.e2e);
    for (const auto& [code, n] : o.codes) codes[code] += n;
    first_connect = std::min(first_connect, o.first_connect);
    last_connect = std::max(last_connect, o.last_connect);
  }
  void reset() {
    counters = Counters{};
    latency.reset();
    service.reset();
    lateness.reset();
    connect.reset();
    handshake.reset();
    e2e.reset();
    codes.clear();
    first_connect = INT64_MAX;
    last_connect = INT64_MIN;
  }
};

}  // namespace lt
