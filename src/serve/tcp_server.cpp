#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_map>
#include <vector>

#include "core/time.hpp"
#include "net/listen.hpp"
#include "serve/sink_server.hpp"
#include "sinks/wire_header.hpp"

namespace lt {

namespace {
// After a stop request the server keeps reading until peers have closed, or nothing arrived for
// this long, so the totals include everything the tool managed to send.
constexpr Nanos kDrainIdle = 500 * kMilli;
constexpr Nanos kDrainMax = 3 * kSecond;  // a peer that keeps sending cannot hold us forever
constexpr std::size_t kReadChunk = 256 * 1024;

struct Conn {
  int fd;
  unsigned char header[4];  // partial length field of the current frame
  std::uint32_t header_have = 0;
  std::uint64_t frame_left = 0;        // bytes of the current frame still to come
  std::vector<unsigned char> pending;  // echo bytes the peer has not taken yet
};

class TcpServer final : public SinkServer {
 public:
  TcpServer(const std::string& bind, std::uint16_t port, bool echo);
  ~TcpServer() override;
  std::uint16_t port() const override { return local_port(listen_fd); }
  void run(const std::atomic<bool>& stop) override { loop(stop); }
  const ServerStats& stats() const override { return stats_; }

 private:
  int listen_fd = -1;
  int ep = -1;
  bool echo;
  ServerStats stats_;
  std::unordered_map<int, Conn> conns;
  std::vector<unsigned char> buf = std::vector<unsigned char>(kReadChunk);

  void accept_all() {
    for (;;) {
      int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a transient error such as EMFILE: try on the next event
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      conns.emplace(fd, Conn{fd, {}, 0, 0, {}});
      ++stats_.connections;
    }
  }

  // Counts frames by walking their length fields; never copies the stream.
  void count_frames(Conn& c, const unsigned char* p, std::size_t n) {
    while (n > 0) {
      if (c.frame_left > 0) {
        const std::size_t take = std::size_t(std::min<std::uint64_t>(c.frame_left, n));
        c.frame_left -= take;
        p += take;
        n -= take;
        if (c.frame_left == 0) ++stats_.messages;
        continue;
      }
      c.header[c.header_have++] = *p++;
      --n;
      if (c.header_have < 4) continue;
      c.header_have = 0;
      const std::uint32_t len = wire_length(c.header);
      if (len < kWireHeaderSize || len > kMaxWireMessage) {
        ++stats_.malformed;  // resynchronising is impossible on a stream: count and skip on
        continue;
      }
      c.frame_left = len - 4;
    }
  }

  void close_conn(int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
    ++stats_.closed;
  }

  void set_events(Conn& c) {
    epoll_event ev{};
    // While echo bytes are stuck, stop reading: the peer's own window then slows it down.
    ev.events = c.pending.empty() ? (EPOLLIN | EPOLLRDHUP) : EPOLLOUT;
    ev.data.fd = c.fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
  }

  bool send_pending(Conn& c) {
    while (!c.pending.empty()) {
      ssize_t w = send(c.fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      stats_.echoed_bytes += std::uint64_t(w);
      c.pending.erase(c.pending.begin(), c.pending.begin() + w);
    }
    return true;
  }

  void on_readable(Conn& c) {
    for (;;) {
      ssize_t n = recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0) {
        stats_.bytes += std::uint64_t(n);
        count_frames(c, buf.data(), std::size_t(n));
        if (echo) {
          c.pending.insert(c.pending.end(), buf.data(), buf.data() + n);
          if (!send_pending(c)) return close_conn(c.fd);
          if (!c.pending.empty()) return set_events(c);
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      return close_conn(c.fd);  // EOF or reset
    }
  }

  // Returns when stop is set and the drain is over.
  void loop(const std::atomic<bool>& stop) {
    std::vector<epoll_event> events(1024);
    Nanos last_data = 0, stop_seen = 0;
    for (;;) {
      if (stop.load(std::memory_order_relaxed)) {
        const Nanos now = monotonic_now();
        if (stop_seen == 0) stop_seen = last_data = now;
        if (conns.empty() || now - last_data >= kDrainIdle || now - stop_seen >= kDrainMax) return;
      }
      int n = epoll_wait(ep, events.data(), int(events.size()), 50);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd) {
          accept_all();
          continue;
        }
        auto it = conns.find(fd);
        if (it == conns.end()) continue;
        Conn& c = it->second;
        if (events[i].events & EPOLLOUT) {
          if (!send_pending(c)) {
            close_conn(fd);
            continue;
          }
          if (c.pending.empty()) set_events(c);
        }
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
      }
      if (n > 0) last_data = monotonic_now();
    }
  }
};

TcpServer::TcpServer(const std::string& bind, std::uint16_t port, bool echo_back)
    : echo(echo_back) {
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

std::unique_ptr<SinkServer> make_tcp_server(const std::string& bind, std::uint16_t port,
                                            bool echo) {
  return std::make_unique<TcpServer>(bind, port, echo);
}

}  // namespace lt
