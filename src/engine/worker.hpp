#pragma once
// One worker: a thread with its own event loop, schedule, sink and recorder, for its shard of
// the devices. It shares nothing with other workers; the reporter talks to it only through the
// few atomics below (read once per loop turn, not per message) and the interval mailbox.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "core/schedule.hpp"
#include "engine/backlog.hpp"
#include "engine/event_loop.hpp"
#include "metrics/recorder.hpp"
#include "sinks/sink.hpp"

namespace lt {

struct SinkInfo;

// One finished reporting interval of one worker.
struct IntervalReport {
  std::uint64_t index;      // interval i covers [start + i*update, start + (i+1)*update)
  bool final;               // the worker's last report: the run (or the drain) is over for it
  std::uint32_t connected;  // devices connected when the interval closed
  Recorder data;
};

struct WorkerShard {
  std::uint64_t first_device;  // global id of the first device
  std::uint64_t stride;        // step between this worker's device ids
  std::uint32_t devices;
};

class Worker final : private SinkEvents {
 public:
  Worker(const Options& options, const Target& target, const SinkInfo& sink, WorkerShard shard,
         const Clock& clock);
  ~Worker() override;

  // Thread body: connect, wait for the start signal, run the schedule, drain, report.
  // `connect_origin` is common to all workers, so --connect-rate paces the whole process.
  void run(Nanos connect_origin);
  // run(), but an exception ends only this worker: what it measured is published as its final
  // interval and failure() says why, so the run still ends with complete files.
  void run_guarded(Nanos connect_origin);
  // Why the worker failed, or "" (valid after run_guarded() returned).
  const std::string& failure() const { return failure_; }

  // --- called from the reporter thread ---
  std::uint32_t settled() const { return settled_.load(std::memory_order_acquire); }
  std::uint32_t connected() const { return connected_.load(std::memory_order_acquire); }
  // `send_from` > origin: a late start (--start-at passed before this process was ready); the
  // ticks due before it are counted missed, never sent in a burst.
  void begin(Nanos origin, Nanos send_from = 0) {
    send_from_.store(send_from, std::memory_order_relaxed);
    origin_.store(origin, std::memory_order_release);
    loop_.wake();
  }
  void request_stop() {
    stop_.store(true, std::memory_order_release);
    loop_.wake();
  }
  // Connections established during the connect phase and when the first and last were
  // (valid after run() returned).
  struct ConnectPhase {
    std::uint64_t count = 0;
    Nanos first = INT64_MAX, last = INT64_MIN;
  };
  ConnectPhase connect_phase() const { return connect_phase_; }
  // When the worker stopped dispatching (valid after run() returned).
  Nanos dispatch_end() const { return dispatch_end_.load(std::memory_order_acquire); }
  // Takes the intervals published so far.
  std::vector<IntervalReport> take_reports();

 private:
  void ready(std::uint32_t local, Nanos now) override;
  Nanos connect_time(Nanos connect_origin, std::uint32_t local) const;
  // Counts the ticks due before `send_from` missed (a late start) and moves past them.
  void skip_missed(Nanos send_from);
  // Offers every tick due at or before `upto` (and before `end`), sending at `now`.
  void dispatch(Nanos upto, Nanos now, Nanos end);
  void deliver(std::uint32_t local, std::uint64_t seq, Nanos intended, Nanos now);
  // --rate max: no schedule; a device offers its next message as soon as the sink can take it.
  void run_closed_loop(Nanos end, Nanos& boundary, Nanos& now);
  void offer_wanting(Nanos now);
  void publish(std::uint64_t index, bool final);
  void wait_until(Nanos deadline);
  void drain(Nanos now);

  const Options& options_;
  const Clock& clock_;
  WorkerShard shard_;
  EventLoop loop_;
  Recorder recorder_;
  std::vector<Backlog> backlogs_;
  // Closed loop: devices the sink said can take more, and each device's next message number.
  std::vector<std::uint32_t> wanting_, offering_;
  std::vector<bool> wants_;
  std::vector<std::uint64_t> next_seq_;
  std::unique_ptr<SinkContext> context_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<Schedule> schedule_;
  Nanos origin_ns_ = 0;
  Nanos last_io_poll_ = 0;
  std::uint64_t interval_ = 0;

  std::atomic<std::uint32_t> settled_{0};
  std::atomic<std::uint32_t> connected_{0};
  std::atomic<Nanos> origin_{0};
  std::atomic<Nanos> send_from_{0};
  std::string failure_;
  std::uint64_t fail_at_ = 0;  // LT_TEST_FAIL_WORKER: throw after this many intervals
  bool crash_ = false;         // LT_TEST_FAIL_WORKER=N:crash: abort instead
  std::atomic<bool> stop_{false};
  std::atomic<Nanos> dispatch_end_{0};
  std::mutex mailbox_mutex_;
  ConnectPhase connect_phase_;
  std::vector<IntervalReport> mailbox_;
};

}  // namespace lt
