#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "net/listen.hpp"
#include "serve/faults.hpp"
#include "serve/sink_server.hpp"
#include "sinks/wire_header.hpp"

namespace lt {

namespace {
constexpr int kBatch = 64;
constexpr std::size_t kMaxDatagram = 65536;
constexpr Nanos kDrainIdle = 200 * kMilli;
constexpr Nanos kDrainMax = 3 * kSecond;

// An answer held back by --delay or a stall.
struct Held {
  Nanos due;
  sockaddr_storage peer;
  socklen_t peer_len;
  std::string data;
};

class UdpServer final : public SinkServer {
 public:
  UdpServer(const std::string& bind, std::uint16_t port, bool echo_back, const ServeFaults& spec)
      : echo(echo_back), faults(spec) {
    fd = bind_socket(bind, port, SOCK_DGRAM);
    // A deep receive queue absorbs bursts from thousands of devices; the kernel caps the value.
    int size = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  ~UdpServer() override { close(fd); }
  std::uint16_t port() const override { return local_port(fd); }
  void run(const std::atomic<bool>& stop) override {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // slack would be added to every --delay wake-up
    loop(stop);
  }
  const ServerStats& stats() const override { return stats_; }

 private:
  int fd = -1;
  bool echo;
  Faults faults;
  ServerStats stats_;
  std::vector<unsigned char> bufs = std::vector<unsigned char>(kBatch * kMaxDatagram);
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  sockaddr_storage peers[kBatch];
  std::deque<Held> held;  // dues never decrease, so the front is always the next one

  // What to do with one datagram's answer; returns true when it goes back at once.
  bool route(int i, Nanos now) {
    if (!echo) return false;
    if (faults.drops() && faults.draw_drop()) {
      ++stats_.dropped;
      return false;
    }
    Nanos due = faults.delays() ? now + faults.draw_delay() : now;
    if (const Nanos until = faults.stalled_until(now)) due = std::max(due, until);
    if (due <= now && held.empty()) return true;
    if (!held.empty()) due = std::max(due, held.back().due);
    const auto* p = static_cast<const char*>(iovs[i].iov_base);
    held.push_back({due, peers[i], msgs[i].msg_hdr.msg_namelen, std::string(p, iovs[i].iov_len)});
    return false;
  }

  // Reads every datagram queued now; returns how many.
  int drain_socket() {
    int total = 0;
    // Bounded, so a flood cannot keep the loop from seeing a stop request.
    for (int round = 0; round < 64; ++round) {
      for (int i = 0; i < kBatch; ++i) {
        iovs[i] = {bufs.data() + i * kMaxDatagram, kMaxDatagram};
        msgs[i].msg_hdr = msghdr{};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &peers[i];
        msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
      }
      int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return total;
      const Nanos now = monotonic_now();  // after the read: nothing is held less than --delay
      faults.traffic_seen(now);
      total += n;
      int answer = 0;  // answers going back now are packed to the front of msgs
      for (int i = 0; i < n; ++i) {
        const std::size_t len = msgs[i].msg_len;
        stats_.bytes += len;
        ++stats_.messages;
        const unsigned char* p = bufs.data() + i * kMaxDatagram;
        if (len < kWireHeaderSize || wire_length(p) != len)
          ++stats_.malformed;
        else
          stats_.device_message(read_wire_header(p)->device);
        iovs[i].iov_len = len;  // echo exactly what came
        if (route(i, now)) {
          if (answer != i) {
            std::swap(iovs[answer], iovs[i]);
            std::swap(peers[answer], peers[i]);
            std::swap(msgs[answer], msgs[i]);
            msgs[answer].msg_hdr.msg_iov = &iovs[answer];
            msgs[answer].msg_hdr.msg_name = &peers[answer];
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_name = &peers[i];
          }
          ++answer;
        }
      }
      if (answer > 0) {
        int sent = sendmmsg(fd, msgs, unsigned(answer), MSG_DONTWAIT);
        for (int i = 0; i < sent; ++i) stats_.echoed_bytes += msgs[i].msg_len;
      }
    }
    return total;
  }

  // Sends held answers that are due, unless stalled.
  void release(Nanos now) {
    if (faults.stalled_until(now)) return;
    while (!held.empty() && held.front().due <= now) {
      Held& h = held.front();
      msghdr m{};
      iovec v{h.data.data(), h.data.size()};
      m.msg_iov = &v;
      m.msg_iovlen = 1;
      m.msg_name = &h.peer;
      m.msg_namelen = h.peer_len;
      ssize_t w = sendmsg(fd, &m, MSG_DONTWAIT);
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) return;
      if (w > 0) stats_.echoed_bytes += std::uint64_t(w);
      held.pop_front();
    }
  }

  Nanos next_wake(Nanos now) const {
    Nanos t = now + 50 * kMilli;  // to see a stop request
    if (!held.empty()) t = std::min(t, std::max(held.front().due, faults.stalled_until(now)));
    return std::max(t, now);
  }

  void loop(const std::atomic<bool>& stop) {
    Nanos last_data = monotonic_now(), stop_seen = 0;
    for (;;) {
      Nanos now = monotonic_now();
      if (stop.load(std::memory_order_relaxed)) {
        if (stop_seen == 0) stop_seen = last_data = now;
        if ((now - last_data >= kDrainIdle && held.empty()) || now - stop_seen >= kDrainMax) return;
      }
      const Nanos wait = next_wake(now) - now;
      const timespec ts{time_t(wait / kSecond), long(wait % kSecond)};
      pollfd p{fd, POLLIN, 0};
      const int ready = ppoll(&p, 1, &ts, nullptr);
      now = monotonic_now();
      if (ready > 0 && drain_socket() > 0) last_data = now;
      count_stall(now);
      release(now);
    }
  }

  void count_stall(Nanos now) {
    const bool stalled = faults.stalled_until(now) != 0;
    if (stalled && !in_stall) ++stats_.stalls;
    in_stall = stalled;
  }
  bool in_stall = false;
};

}  // namespace

std::unique_ptr<SinkServer> make_udp_server(const std::string& bind, std::uint16_t port, bool echo,
                                            const ServeFaults& faults) {
  return std::make_unique<UdpServer>(bind, port, echo, faults);
}

}  // namespace lt
