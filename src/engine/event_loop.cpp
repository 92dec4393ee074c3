#include "engine/event_loop.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace lt {

namespace {
// Marks the wake-up eventfd in epoll's user data; handlers are never at this address.
IoHandler* const kWakeTag = reinterpret_cast<IoHandler*>(std::uintptr_t{1});
}  // namespace

EventLoop::EventLoop() : epfd_(epoll_create1(EPOLL_CLOEXEC)), wakefd_(-1), events_(256) {
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  add(wakefd_, EPOLLIN, kWakeTag);
}

EventLoop::~EventLoop() {
  if (wakefd_ >= 0) close(wakefd_);
  if (epfd_ >= 0) close(epfd_);
}

bool EventLoop::add(int fd, std::uint32_t events, IoHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::modify(int fd, std::uint32_t events, IoHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::at(Nanos when, TimerFn fn) {
  timers_.push(Timer{when, timer_order_++, std::move(fn)});
}

int EventLoop::run_timers(Nanos now) {
  int ran = 0;
  while (!timers_.empty() && timers_.top().when <= now) {
    TimerFn fn = std::move(const_cast<Timer&>(timers_.top()).fn);
    timers_.pop();
    fn(now);
    ++ran;
  }
  return ran;
}

int EventLoop::poll(Nanos deadline, const Clock& clock) {
  const Nanos now = clock.now();
  Nanos until = std::min(deadline, next_timer());
  Nanos wait = until - now;
  if (wait < 0) wait = 0;
  timespec ts{static_cast<time_t>(wait / kSecond), static_cast<long>(wait % kSecond)};
  int n = epoll_pwait2(epfd_, events_.data(), int(events_.size()), &ts, nullptr);
  if (n < 0) {
    if (errno == EINTR) return 0;
    throw std::system_error(errno, std::generic_category(), "epoll_pwait2");
  }
  const Nanos after = clock.now();
  for (int i = 0; i < n; ++i) {
    IoHandler* h = static_cast<IoHandler*>(events_[i].data.ptr);
    if (h == kWakeTag) {
      std::uint64_t v;
      [[maybe_unused]] auto r = read(wakefd_, &v, sizeof v);
      continue;
    }
    h->on_io(events_[i].events, after);
  }
  if (n == int(events_.size())) events_.resize(events_.size() * 2);
  return n;
}

void EventLoop::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto r = write(wakefd_, &one, sizeof one);
}

}  // namespace lt
