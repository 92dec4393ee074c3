#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/time.hpp"
#include "net/listen.hpp"
#include "net/socket_ops.hpp"
#include "serve/echo_queue.hpp"
#include "serve/faults.hpp"
#include "serve/sink_server.hpp"
#include "serve/stream_protocol.hpp"

namespace lt {

namespace {
// After a stop request the server keeps reading until peers have closed, or nothing arrived for
// this long, so the totals include everything the tool managed to send.
constexpr Nanos kDrainIdle = 500 * kMilli;
constexpr Nanos kDrainMax = 3 * kSecond;  // a peer that keeps sending cannot hold us forever
constexpr std::size_t kReadChunk = 256 * 1024;
// Echo bytes held for --delay beyond this stop reading from that peer: memory stays bounded and
// the peer's own window slows it down, as a real server's would.
constexpr std::size_t kMaxHeld = 64u << 20;
constexpr Nanos kAcceptRetry = 100 * kMilli;  // after EMFILE: the fd limit is not a busy loop

using ProtocolFactory = std::function<std::unique_ptr<StreamProtocol>()>;

struct Conn {
  int fd;
  std::uint64_t id;
  std::unique_ptr<StreamProtocol> protocol;
  EchoQueue out;
  bool armed = false;                           // a release timer is queued for this connection
  std::uint32_t events = EPOLLIN | EPOLLRDHUP;  // as registered with epoll
  // The protocol asked to close: nothing more is read into it, and once everything owed is sent
  // the write side is shut (`shut`) and input is discarded until the peer closes (a lingering
  // close: closing at once could reset the connection and lose the last replies).
  bool closing = false;
  bool shut = false;
};

// A queued release of held echo bytes; `id` tells a reused fd from the connection it had.
struct Release {
  Nanos due;
  int fd;
  std::uint64_t id;
  bool operator>(const Release& o) const { return due > o.due; }
};

class TcpServer final : public SinkServer {
 public:
  // `replies`: the protocol answers its peer (echo, HTTP); otherwise the server only reads.
  TcpServer(const std::string& bind, std::uint16_t port, ProtocolFactory make_protocol,
            bool replies, const ServeFaults& faults);
  ~TcpServer() override;
  std::uint16_t port() const override { return local_port(listen_fd); }
  void run(const std::atomic<bool>& stop) override {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // slack would be added to every --delay wake-up
    loop(stop);
  }
  const ServerStats& stats() const override { return stats_; }

 private:
  int listen_fd = -1;
  int ep = -1;
  ProtocolFactory make_protocol;
  bool replies;
  Faults faults;
  ServerStats stats_;
  std::unordered_map<int, Conn> conns;
  std::uint64_t next_id = 1;
  std::vector<unsigned char> buf = std::vector<unsigned char>(kReadChunk);
  std::priority_queue<Release, std::vector<Release>, std::greater<>> releases;
  Nanos stall_end = 0;  // nonzero while stalled
  Nanos accept_paused_until = 0;
  std::unordered_set<std::string> peers;  // distinct source addresses, for --source-ip checks

  void accept_all(Nanos now) {
    for (;;) {
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof peer;
      int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
          watch_listener(false);
          accept_paused_until = now + kAcceptRetry;
        }
        return;  // EAGAIN, or a transient error: try on the next event
      }
      // Echoes are small writes spaced by --delay: Nagle would hold them for the peer's ACK.
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      faults.traffic_seen(now);
      Conn& c = conns.emplace(fd, Conn{fd, next_id++, make_protocol()}).first->second;
      epoll_event ev{};
      ev.events = c.events = stall_end ? 0u : std::uint32_t(EPOLLIN | EPOLLRDHUP);
      ev.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
      ++stats_.connections;
      if (peers.insert(format_address(peer, false)).second) ++stats_.peer_addresses;
    }
  }

  void watch_listener(bool on) {
    epoll_event ev{};
    ev.events = on ? std::uint32_t(EPOLLIN) : 0u;
    ev.data.fd = listen_fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, listen_fd, &ev);
  }

  void close_conn(int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
    ++stats_.closed;
  }

  void set_events(Conn& c) {
    epoll_event ev{};
    if (stall_end == 0) {
      // While echo bytes are stuck (or too many are held), stop reading: the peer's own window
      // then slows it down. A closing connection reads again only once its write side is shut.
      if (c.out.sendable_size() > 0)
        ev.events = EPOLLOUT;
      else if (c.closing ? c.shut : c.out.size() < kMaxHeld)
        ev.events = EPOLLIN | EPOLLRDHUP;
    }
    if (ev.events == c.events) return;  // one syscall less per read in the common case
    c.events = ev.events;
    ev.data.fd = c.fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
  }

  bool send_pending(Conn& c) {
    while (c.out.sendable_size() > 0 && stall_end == 0) {
      ssize_t w = send(c.fd, c.out.sendable(), c.out.sendable_size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      stats_.echoed_bytes += std::uint64_t(w);
      c.out.consume(std::size_t(w));
    }
    return true;
  }

  void arm(Conn& c) {
    if (c.armed || c.out.next_due() == INT64_MAX) return;
    c.armed = true;
    releases.push({c.out.next_due(), c.fd, c.id});
  }

  // Sends what is due; false when the connection failed and was closed.
  bool flush(Conn& c, Nanos now) {
    c.out.release(now);
    if (!send_pending(c)) {
      close_conn(c.fd);
      return false;
    }
    if (c.closing && !c.shut && c.out.size() == 0) {
      shutdown(c.fd, SHUT_WR);
      c.shut = true;
    }
    arm(c);
    set_events(c);
    return true;
  }

  void on_readable(Conn& c) {
    for (;;) {
      ssize_t n = recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      // Taken after the read, so no byte is held for less than --delay.
      const Nanos now = monotonic_now();
      if (n > 0) {
        stats_.bytes += std::uint64_t(n);
        if (c.closing) continue;  // after the last reply: discarded until the peer closes
        Replies r(c.out, stats_, faults, now, replies && faults.delays());
        if (!c.protocol->take(buf.data(), std::size_t(n), r)) c.closing = true;
        if (replies) {
          if (!faults.delays()) c.out.release_all();
          if (!flush(c, now)) return;
          if (c.closing || c.out.sendable_size() > 0 || c.out.size() >= kMaxHeld) return;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      return close_conn(c.fd);  // EOF or reset
    }
  }

  void run_releases(Nanos now) {
    while (!releases.empty() && releases.top().due <= now) {
      const Release r = releases.top();
      releases.pop();
      auto it = conns.find(r.fd);
      if (it == conns.end() || it->second.id != r.id) continue;
      it->second.armed = false;
      flush(it->second, now);
    }
  }

  // Enters or leaves a stall; in one, no connection is read or written.
  void update_stall(Nanos now) {
    const Nanos until = faults.stalled_until(now);
    if ((until != 0) == (stall_end != 0)) return;
    stall_end = until;
    if (until) ++stats_.stalls;
    std::vector<int> fds;
    fds.reserve(conns.size());
    for (auto& [fd, c] : conns) fds.push_back(fd);
    for (int fd : fds) {
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      if (until)
        set_events(it->second);
      else
        flush(it->second, now);
    }
  }

  Nanos next_wake(Nanos now) const {
    Nanos t = now + 50 * kMilli;  // to see a stop request
    if (!releases.empty() && stall_end == 0) t = std::min(t, releases.top().due);
    t = std::min(t, stall_end ? stall_end : faults.next_stall(now));
    if (accept_paused_until) t = std::min(t, accept_paused_until);
    return t;
  }

  // Returns when stop is set and the drain is over.
  void loop(const std::atomic<bool>& stop) {
    std::vector<epoll_event> events(1024);
    Nanos last_data = 0, stop_seen = 0;
    for (;;) {
      Nanos now = monotonic_now();
      if (stop.load(std::memory_order_relaxed)) {
        if (stop_seen == 0) stop_seen = last_data = now;
        const bool owed = std::any_of(conns.begin(), conns.end(),
                                      [](const auto& kv) { return kv.second.out.size() > 0; });
        if (conns.empty() || (now - last_data >= kDrainIdle && !owed) ||
            now - stop_seen >= kDrainMax)
          return;
      }
      update_stall(now);
      const Nanos wait = std::max<Nanos>(0, next_wake(now) - now);
      const timespec ts{time_t(wait / kSecond), long(wait % kSecond)};
      int n = epoll_pwait2(ep, events.data(), int(events.size()), &ts, nullptr);
      now = monotonic_now();
      if (accept_paused_until && now >= accept_paused_until) {
        accept_paused_until = 0;
        watch_listener(true);
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd) {
          accept_all(now);
          continue;
        }
        auto it = conns.find(fd);
        if (it == conns.end()) continue;
        Conn& c = it->second;
        if (events[i].events & EPOLLOUT) {
          if (!flush(c, now)) continue;
        }
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
      }
      if (n > 0) last_data = now;
      if (stall_end == 0) run_releases(now);
    }
  }
};

TcpServer::TcpServer(const std::string& bind, std::uint16_t port, ProtocolFactory make,
                     bool answers, const ServeFaults& spec)
    : make_protocol(std::move(make)), replies(answers), faults(spec) {
  listen_fd = bind_socket(bind, port, SOCK_STREAM);
  ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
}

TcpServer::~TcpServer() {
  for (auto& [fd, c] : conns) close(fd);
  close(ep);
  close(listen_fd);
}

}  // namespace

std::unique_ptr<SinkServer> make_tcp_server(const std::string& bind, std::uint16_t port, bool echo,
                                            const ServeFaults& faults) {
  return std::make_unique<TcpServer>(
      bind, port, [echo] { return make_wire_protocol(echo); }, echo, faults);
}

std::unique_ptr<SinkServer> make_http_server(const std::string& bind, std::uint16_t port,
                                             const ServeFaults& faults) {
  return std::make_unique<TcpServer>(bind, port, make_http_protocol, true, faults);
}

}  // namespace lt
