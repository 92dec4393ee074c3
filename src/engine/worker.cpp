#include "engine/worker.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "sinks/registry.hpp"

namespace lt {

namespace {
// --precise sleeps until this long before a deadline, then spins on the clock.
constexpr Nanos kSpinMargin = 50 * kMicro;
constexpr Nanos kIdlePoll = 100 * kMicro;
constexpr Nanos kConnectPoll = 1 * kMilli;
// After Ctrl-C the drain still takes the replies and confirmations already on their way, but a
// long --timeout does not hold the user up beyond this.
constexpr Nanos kInterruptedDrain = 500 * kMilli;
}  // namespace

Worker::Worker(const Options& options, const Target& target, const SinkInfo& sink,
               WorkerShard shard, const Clock& clock)
    : options_(options), clock_(clock), shard_(shard), backlogs_(shard.devices) {
  std::vector<std::uint64_t> ids(shard.devices);
  for (std::uint32_t i = 0; i < shard.devices; ++i) ids[i] = shard.first_device + i * shard.stride;
  context_.reset(new SinkContext{options, target, loop_, clock, recorder_, *this, std::move(ids),
                                 std::uint32_t(shard.stride)});
  sink_ = sink.make(*context_);
}

Worker::~Worker() = default;

void Worker::run(Nanos connect_origin) {
  // Timer slack defaults to 50 us, which would be added to every wake-up.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  // Connect phase: open the devices (all at once, or device g at connect_origin + g / rate) and
  // keep the loop turning until the reporter fixes the common origin.
  std::uint32_t opened = 0;
  while (origin_.load(std::memory_order_acquire) == 0 && !stop_.load(std::memory_order_acquire)) {
    const Nanos now = clock_.now();
    Nanos next_open = INT64_MAX;
    for (; opened < shard_.devices; ++opened) {
      next_open = connect_time(connect_origin, opened);
      if (next_open > now) break;
      sink_->open(opened, clock_.now());
      // Opening thousands takes milliseconds: take completions as they come, so the connect
      // latency of the first is not the time it took to open the rest.
      if (opened % 64 == 63) loop_.poll(0, clock_);
    }
    if (opened == shard_.devices) next_open = INT64_MAX;
    settled_.store(sink_->settled(), std::memory_order_release);
    connected_.store(sink_->connected(), std::memory_order_release);
    wait_until(std::min(next_open, clock_.now() + kConnectPoll));
  }
  origin_ns_ = origin_.load(std::memory_order_acquire);
  if (origin_ns_ == 0) origin_ns_ = clock_.now();  // stopped before the start
  connect_phase_ = {recorder_.counters[Counter::Connects], recorder_.first_connect,
                    recorder_.last_connect};

  ScheduleShape shape{options_.total_rate(), options_.devices, shard_.first_device,
                      shard_.stride,         shard_.devices,   options_.arrival == Arrival::Poisson,
                      options_.seed};
  schedule_ = std::make_unique<Schedule>(shape, origin_ns_);
  skip_missed(send_from_.load(std::memory_order_relaxed));
  const Nanos end = options_.duration > 0 ? origin_ns_ + options_.duration : INT64_MAX;
  Nanos boundary = origin_ns_ + options_.update;

  // Run: everything due up to now is dispatched first, so a tick just before the end still goes.
  Nanos now = clock_.now();
  if (options_.closed_loop) run_closed_loop(end, boundary, now);
  while (!options_.closed_loop && !stop_.load(std::memory_order_relaxed)) {
    now = clock_.now();
    // An interval holds the messages due in it: after a late wake-up, what was due before the
    // boundary is sent (now, and recorded as late) before the interval is closed, so a
    // descheduled worker shows as lateness, not as a dip and a spike in the rate series.
    for (; now >= boundary; boundary += options_.update) {
      dispatch(boundary - 1, now, end);
      sink_->flush(now);
      publish(interval_++, false);
      if (fail_at_ && interval_ >= fail_at_) {
        if (crash_) std::abort();
        throw std::runtime_error("injected failure (test)");
      }
    }
    dispatch(now, now, end);
    sink_->flush(now);
    if (now >= end) break;
    connected_.store(sink_->connected(), std::memory_order_relaxed);
    wait_until(std::min({schedule_->peek().intended, boundary, end}));
  }

  dispatch_end_.store(now, std::memory_order_release);
  sink_->finish(now);
  sink_->flush(now);
  // Drain: give replies and unsent bytes up to --timeout, still reporting on the boundaries.
  Nanos drain_end = now + options_.timeout;
  bool cut = false;
  while (sink_->busy() && now < drain_end) {
    if (!cut && stop_.load(std::memory_order_relaxed)) {
      cut = true;
      drain_end = std::min(drain_end, now + kInterruptedDrain);
    }
    wait_until(std::min(boundary, drain_end));
    now = clock_.now();
    for (; now >= boundary; boundary += options_.update) publish(interval_++, false);
    sink_->flush(now);
  }
  sink_->stop(clock_.now());
  for (auto& b : backlogs_) recorder_.count(Counter::Missed, b.size());
  connected_.store(0, std::memory_order_release);
  publish(interval_, true);
}

void Worker::run_guarded(Nanos connect_origin) {
  try {
    // A test hook: LT_TEST_FAIL_WORKER=N makes worker N (by its first device) throw a second
    // into the run, to show that one worker's failure loses nothing the others measured;
    // N:crash makes it abort instead (result paths untouched, no temporary file left).
    char* rest = nullptr;
    if (const char* fail = std::getenv("LT_TEST_FAIL_WORKER");
        fail && std::strtoull(fail, &rest, 10) == shard_.first_device && rest != fail) {
      fail_at_ = 1;
      crash_ = std::strcmp(rest, ":crash") == 0;
    }
    run(connect_origin);
  } catch (const std::exception& e) {
    failure_ = e.what();
  } catch (...) {
    failure_ = "unknown exception";
  }
  if (!failure_.empty()) {
    try {
      sink_->stop(clock_.now());
    } catch (...) {
      // The sink is what failed: its outstanding messages stay uncounted, said in failure().
    }
    dispatch_end_.store(clock_.now(), std::memory_order_release);
    connected_.store(0, std::memory_order_release);
    publish(interval_, true);
  }
}

void Worker::run_closed_loop(Nanos end, Nanos& boundary, Nanos& now) {
  wants_.assign(shard_.devices, false);
  next_seq_.assign(shard_.devices, 0);
  for (std::uint32_t i = 0; i < shard_.devices; ++i) ready(i, now);
  while (!stop_.load(std::memory_order_relaxed)) {
    now = clock_.now();
    for (; now >= boundary; boundary += options_.update) publish(interval_++, false);
    if (now >= end) break;
    offer_wanting(now);
    sink_->flush(now);
    connected_.store(sink_->connected(), std::memory_order_relaxed);
    // Replies are what paces a closed loop: wait for them, unless a device can send already.
    loop_.poll(wanting_.empty() ? std::min(boundary, end) : 0, clock_);
    loop_.run_timers(clock_.now());
  }
}

void Worker::offer_wanting(Nanos now) {
  offering_.swap(wanting_);
  for (std::uint32_t local : offering_) {
    wants_[local] = false;
    // Each message's intended time is the moment it could go: latency equals service time.
    while (sink_->offer(local, next_seq_[local], now, now) == Offer::Taken) ++next_seq_[local];
  }
  offering_.clear();
}

Nanos Worker::connect_time(Nanos connect_origin, std::uint32_t local) const {
  if (!options_.connect_rate) return connect_origin;
  const std::uint64_t g = shard_.first_device + std::uint64_t(local) * shard_.stride;
  return connect_origin + options_.connect_rate->tick_offset(g);
}

void Worker::skip_missed(Nanos send_from) {
  if (send_from <= origin_ns_ || options_.closed_loop) return;
  const Nanos end = options_.duration > 0 ? origin_ns_ + options_.duration : INT64_MAX;
  for (;;) {
    const Tick& t = schedule_->peek();
    if (t.intended >= send_from || t.intended >= end) return;
    recorder_.count(Counter::Missed);
    schedule_->advance();
  }
}

void Worker::dispatch(Nanos upto, Nanos now, Nanos end) {
  for (;;) {
    const Tick& t = schedule_->peek();
    if (t.intended > upto || t.intended >= end) return;
    deliver(t.local_device, t.seq, t.intended, now);
    schedule_->advance();
  }
}

void Worker::deliver(std::uint32_t local, std::uint64_t seq, Nanos intended, Nanos now) {
  Backlog& backlog = backlogs_[local];
  // Order is kept: a device with a backlog queues behind it rather than jumping it.
  if (backlog.empty() && sink_->offer(local, seq, intended, now) == Offer::Taken) return;
  if (!backlog.push({seq, intended}, options_.backlog)) recorder_.count(Counter::Missed);
}

void Worker::ready(std::uint32_t local, Nanos now) {
  if (options_.closed_loop) {
    // Offered from the main loop, never from inside the sink's own callback.
    if (!wants_.empty() && !wants_[local]) {
      wants_[local] = true;
      wanting_.push_back(local);
    }
    return;
  }
  Backlog& backlog = backlogs_[local];
  while (!backlog.empty()) {
    const auto& e = backlog.front();
    if (sink_->offer(local, e.seq, e.intended, now) != Offer::Taken) return;
    backlog.pop();
  }
}

void Worker::wait_until(Nanos deadline) {
  // Default waiting always sleeps. Spinning through short waits (tried below 20 us) showed no
  // steady gain here and risks the known spinner's penalty: with the target on the same cores,
  // a thread that never sleeps loses the scheduler's wake-up preference and waits whole slices.
  if (options_.precise && deadline != INT64_MAX) {
    // Sleep to the margin; a wake-up before it (I/O, stop) returns to the caller's loop, which
    // comes back here. Only the last margin is spun, and a stop request ends the spin.
    if (deadline - clock_.now() > kSpinMargin) {
      loop_.poll(deadline - kSpinMargin, clock_);
    } else {
      // Take any I/O without waiting. Without --echo nothing but errors arrives, so a syscall
      // per message is not spent on looking: every 100 us is soon enough to notice a close.
      const Nanos now = clock_.now();
      if (options_.echo || now - last_io_poll_ >= kIdlePoll) {
        loop_.poll(0, clock_);
        last_io_poll_ = now;
      }
      while (clock_.now() < deadline && loop_.next_timer() > deadline &&
             !stop_.load(std::memory_order_relaxed)) {
      }
    }
  } else {
    loop_.poll(deadline, clock_);
  }
  loop_.run_timers(clock_.now());
}

void Worker::publish(std::uint64_t index, bool final) {
  IntervalReport report{index, final, sink_->connected(), recorder_};
  recorder_.reset();
  std::lock_guard lock(mailbox_mutex_);
  mailbox_.push_back(std::move(report));
}

std::vector<IntervalReport> Worker::take_reports() {
  std::lock_guard lock(mailbox_mutex_);
  std::vector<IntervalReport> out;
  out.swap(mailbox_);
  return out;
}

}  // namespace lt
