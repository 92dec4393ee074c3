#pragma once
// Everything a finished (or interrupted) run measured, as the reporters and the JSON writer see
// it. A live run keeps its interval series on disk (report/interval_spool.hpp), not in
// `intervals`; a merge, which reads finished files, fills `intervals`.
#include <cstdint>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "metrics/recorder.hpp"

namespace lt {

struct IntervalPoint {
  std::uint64_t index = 0;
  Nanos start = 0;   // offset from the run's origin
  Nanos length = 0;  // part of the interval inside the sending window
  Counters counters;
  std::int64_t latency_p50 = 0, latency_p99 = 0, latency_max = 0;
  std::int64_t lateness_p99 = 0;
  std::uint32_t connected = 0;  // devices connected when the interval closed
  std::uint64_t rss_kib = 0;    // resident memory when it closed: a soak shows it flat
  std::string latency_hdr;      // the interval's latency histogram, encoded: merges stay exact
};

struct RunResult {
  const Options* options = nullptr;
  std::string target;  // address actually used
  unsigned workers = 0;
  Nanos start_unix_ns = 0;  // wall-clock time of the origin
  Nanos start_late_ns = 0;  // --start-at: how long after it this process could start
  Nanos connect_phase = 0;  // from first connect to the origin
  std::uint32_t connected_at_start = 0;
  // Connections established in the connect phase, and the span from the first to the last.
  std::uint64_t phase_connects = 0;
  Nanos phase_connect_span = 0;

  // Connections per second established in the connect phase (0 when fewer than two).
  double connect_rate() const {
    return phase_connects > 1 && phase_connect_span > 0
               ? double(phase_connects - 1) * double(kSecond) / double(phase_connect_span)
               : 0.0;
  }
  Nanos elapsed = 0;  // sending window actually used (shorter when interrupted)
  bool interrupted = false;
  std::vector<std::string> failures;  // workers that ended on an exception, and why
  std::uint64_t max_rss_kib = 0;      // peak resident memory of the process
  // Resident memory before the workers (and their devices) existed and once all connected:
  // the difference is what the devices cost, free of the run's later allocations.
  std::uint64_t rss_before_devices_kib = 0, rss_connected_kib = 0;
  double cpu_seconds = 0;  // user + system time of the whole process
  Recorder total;
  std::vector<IntervalPoint> intervals;

  // 0 for a closed loop (--rate max), which has no target. This process's share of it.
  double target_rate() const {
    return options->closed_loop ? 0.0 : options->local_rate().per_second();
  }
  double achieved_rate() const {
    return elapsed > 0 ? double(total.counters[Counter::Sent]) * double(kSecond) / double(elapsed)
                       : 0.0;
  }
};

}  // namespace lt
