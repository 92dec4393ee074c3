#pragma once
// The messages a protocol connection has taken, in stream order, until they leave it (written,
// or answered): the front `recorded` are wholly written (counted sent), the front `stamped`
// carry their send time, the rest wait for a write to begin. Entries leave from the front.
// Shared by the http, mqtt and nats sinks; each brings its own Entry (with `intended`, `sent`
// and `end`, the stream offset just past its last byte).
#include <cstdint>

#include "core/time.hpp"
#include "sinks/ring.hpp"

namespace lt {

template <typename Entry>
struct Outbox {
  Ring<Entry> pending;
  std::uint32_t stamped = 0;
  std::uint32_t recorded = 0;
  bool owe_ready = false;  // said Busy: the worker is told once there is room

  // A write begins at `now`: entries not yet begun take it as their send time; fn(entry) may
  // write it into their bytes.
  template <typename Fn>
  void stamp(Nanos now, Fn&& fn) {
    for (; stamped < pending.size(); ++stamped) {
      Entry& e = pending[stamped];
      e.sent = now;
      fn(e);
    }
  }
  // The stream is written up to offset `written`: fn(entry) for each entry now wholly written.
  template <typename Fn>
  void record(std::uint64_t written, Fn&& fn) {
    for (; recorded < pending.size() && pending[recorded].end <= written; ++recorded)
      fn(pending[recorded]);
  }
  // Every wholly written entry leaves, fn(entry) first: a fire-and-forget message is complete
  // once the kernel has it.
  template <typename Fn>
  void pop_written(Fn&& fn) {
    while (recorded > 0) {
      fn(pending.front());
      pop();
    }
  }
  // The front entry leaves.
  void pop() {
    pending.pop();
    if (recorded > 0) --recorded;
    if (stamped > 0) --stamped;
  }
  std::uint32_t unwritten() const { return pending.size() - recorded; }
  void clear() {
    pending.clear();
    stamped = recorded = 0;
    owe_ready = false;  // the reconnect's ready() tells the worker
  }
};

}  // namespace lt
