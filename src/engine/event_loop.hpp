#pragma once
// One epoll instance per worker thread, waiting with nanosecond deadlines (epoll_pwait2), plus a
// small timer queue for connection-level events (reconnect backoff, reply deadlines): never one
// timer per message.
#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "core/time.hpp"

namespace lt {

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  virtual void on_io(std::uint32_t events, Nanos now) = 0;
};

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Registration returns false with errno set when epoll refuses.
  bool add(int fd, std::uint32_t events, IoHandler* handler);
  bool modify(int fd, std::uint32_t events, IoHandler* handler);
  void remove(int fd);

  using TimerFn = std::function<void(Nanos now)>;
  void at(Nanos when, TimerFn fn);
  Nanos next_timer() const { return timers_.empty() ? INT64_MAX : timers_.top().when; }
  // Runs the timers due at `now`; returns how many ran.
  int run_timers(Nanos now);

  // Waits for I/O until `deadline` (absolute, monotonic) or the next timer, dispatches handlers.
  // Returns the number of I/O events handled. A deadline in the past polls without waiting.
  int poll(Nanos deadline, const Clock& clock);

  // Wakes a poll() from another thread.
  void wake();

 private:
  struct Timer {
    Nanos when;
    std::uint64_t order;
    TimerFn fn;
    bool operator>(const Timer& o) const {
      return when != o.when ? when > o.when : order > o.order;
    }
  };

  int epfd_;
  int wakefd_;
  std::uint64_t timer_order_ = 0;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::vector<epoll_event> events_;
};

}  // namespace lt
