#include "sinks/udp_sink.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <vector>

#include "net/socket_ops.hpp"
#include "sinks/wire_header.hpp"

namespace lt {
namespace {

class UdpSink;

struct UdpConn final : IoHandler {
  UdpSink* sink = nullptr;
  std::uint32_t local = 0;
  int fd = -1;
  bool want_write = false;
  bool owe_ready = false;         // said Busy for --inflight: told once a slot frees
  bool settled = false;           // first open attempt done
  unsigned attempt = 0;           // failed opens in a row, for the backoff
  std::uint32_t outstanding = 0;  // echo: sent, neither answered nor lost yet
  void on_io(std::uint32_t events, Nanos now) override;
};

// Echo bookkeeping. The header's seq is this worker's running datagram number, so the entry of a
// reply is found by subtraction: no map, and expiry walks the front in send order.
struct Pending {
  Nanos intended;
  Nanos sent;
  std::uint32_t device;
  std::uint32_t local;
  bool answered;
};

class UdpSink final : public Sink {
 public:
  explicit UdpSink(SinkContext& c) : c_(c), conns_(c.device_ids.size()), buf_(c.options.payload) {
    for (std::uint32_t i = 0; i < conns_.size(); ++i) {
      conns_[i].sink = this;
      conns_[i].local = i;
    }
  }
  ~UdpSink() override {
    for (auto& conn : conns_) close_fd(conn);
  }

  void open(std::uint32_t local, Nanos now) override {
    UdpConn& conn = conns_[local];
    if (!conn.settled) {
      conn.settled = true;
      ++settled_;
    }
    conn.fd = open_socket(c_.target, SOCK_DGRAM, c_.device_ids[local]);
    if (conn.fd < 0 || connect_socket(conn.fd, c_.target) != 0) {
      c_.recorder.count(classify_errno(errno));
      close_fd(conn);
      // Out of descriptors or ports, or a source address gone: try again later, as TCP
      // reconnects do.
      if (!stopped_)
        c_.loop.at(now + reconnect_delay(conn.attempt++, rng_), [this, local](Nanos t) {
          if (!stopped_ && conns_[local].fd < 0) open(local, t);
        });
      return;
    }
    c_.loop.add(conn.fd, EPOLLIN, &conn);
    c_.recorder.connected(now, c_.clock.now());
    if (conn.attempt > 0) c_.recorder.count(Counter::Reconnects);
    conn.attempt = 0;
    ++connected_;
    c_.events.ready(local, now);
  }
  std::uint32_t connected() const override { return connected_; }
  std::uint32_t settled() const override { return settled_; }

  Offer offer(std::uint32_t local, std::uint64_t seq, Nanos intended, Nanos now) override {
    UdpConn& conn = conns_[local];
    if (conn.fd < 0) return Offer::Down;
    if (conn.want_write) return Offer::Busy;
    if (c_.options.echo && conn.outstanding >= c_.options.inflight) {
      conn.owe_ready = true;
      return Offer::Busy;
    }
    now = c_.clock.now();  // the real send time: a dispatch pass of many devices takes a while
    const bool echo = c_.options.echo;
    const std::uint64_t wire_seq = echo ? base_ + pending_.size() : seq;
    write_wire_header(buf_.data(),
                      WireHeader{std::uint32_t(buf_.size()), std::uint32_t(c_.device_ids[local]),
                                 wire_seq, intended, now});
    for (int tries = 0;; ++tries) {
      ssize_t n = ::send(conn.fd, buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (n >= 0) break;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        conn.want_write = true;
        c_.loop.modify(conn.fd, EPOLLIN | EPOLLOUT, &conn);
        return Offer::Busy;
      }
      // An ICMP error from an earlier datagram surfaces here; count it and try this one again.
      const int err = errno;
      c_.recorder.count(classify_errno(err));
      if (tries == 0 && err == ECONNREFUSED) continue;
      c_.recorder.count(Counter::Missed);  // this datagram never left
      return Offer::Taken;
    }
    c_.recorder.sent(intended, now, buf_.size());
    c_.recorder.count(Counter::Writes);
    if (echo) {
      pending_.push_back(Pending{intended, now, std::uint32_t(c_.device_ids[local]), local, false});
      ++unanswered_;
      ++conn.outstanding;
    } else {
      c_.recorder.completed(intended, now, c_.clock.now());  // done when the kernel took it
    }
    return Offer::Taken;
  }

  void flush(Nanos now) override { expire(now); }

  bool busy() const override { return unanswered_ > 0; }

  void stop(Nanos now) override {
    stopped_ = true;
    expire(now + c_.options.timeout);  // everything unanswered by now is lost
    for (auto& conn : conns_) close_fd(conn);
    connected_ = 0;
  }

  void handle(UdpConn& conn, std::uint32_t events, Nanos now) {
    if (conn.fd < 0) return;
    // An ICMP error pending on the socket shows as EPOLLERR alone; reading clears (and counts)
    // it, where leaving it would wake this level-triggered loop at once, again and again.
    if (events & (EPOLLIN | EPOLLERR)) read_replies(conn, now);
    if ((events & EPOLLOUT) && conn.want_write) {
      conn.want_write = false;
      c_.loop.modify(conn.fd, EPOLLIN, &conn);
      c_.events.ready(conn.local, now);
    }
  }

 private:
  void read_replies(UdpConn& conn, Nanos now) {
    unsigned char buf[65536];
    for (;;) {
      ssize_t n = ::recv(conn.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c_.recorder.count(classify_errno(errno));
        return;
      }
      // After the read: the loop's earlier time could make a reply look faster than it was.
      now = c_.clock.now();
      c_.recorder.count(Counter::BytesReceived, std::uint64_t(n));
      if (!c_.options.echo) continue;
      std::optional<WireHeader> h;
      if (std::size_t(n) >= kWireHeaderSize) h = read_wire_header(buf);
      if (!h || h->length != std::size_t(n)) {
        c_.recorder.count(Counter::ErrMalformed);
        continue;
      }
      if (h->seq < base_) {
        c_.recorder.count(Counter::LateReplies);
        continue;
      }
      if (h->seq >= base_ + pending_.size()) {
        c_.recorder.count(Counter::ErrMalformed);
        continue;
      }
      Pending& p = pending_[h->seq - base_];
      if (p.device != h->device) {
        c_.recorder.count(Counter::ErrMalformed);
        continue;
      }
      if (p.answered) {
        c_.recorder.count(Counter::Duplicates);
        continue;
      }
      p.answered = true;
      --unanswered_;
      c_.recorder.completed(p.intended, p.sent, now);  // our own record, not the peer's bytes
      settle(p.local, now);
    }
  }

  void expire(Nanos now) {
    const Nanos timeout = c_.options.timeout;
    while (!pending_.empty() &&
           (pending_.front().answered || pending_.front().sent + timeout <= now)) {
      if (!pending_.front().answered) {
        c_.recorder.count(Counter::Lost);
        --unanswered_;
        settle(pending_.front().local, now);
      }
      pending_.pop_front();
      ++base_;
    }
  }

  // One of the device's echoes is over (answered or lost): a device held back by --inflight
  // may send again.
  void settle(std::uint32_t local, Nanos now) {
    UdpConn& conn = conns_[local];
    --conn.outstanding;
    if (conn.owe_ready && conn.outstanding < c_.options.inflight) {
      conn.owe_ready = false;
      if (!stopped_) c_.events.ready(local, now);
    }
  }

  void close_fd(UdpConn& conn) {
    if (conn.fd >= 0) {
      c_.loop.remove(conn.fd);
      ::close(conn.fd);
      conn.fd = -1;
    }
  }

  SinkContext& c_;
  std::vector<UdpConn> conns_;
  std::vector<unsigned char> buf_;
  std::deque<Pending> pending_;
  std::uint64_t base_ = 0;  // wire seq of pending_.front()
  std::uint64_t unanswered_ = 0;
  std::uint32_t connected_ = 0;
  std::uint32_t settled_ = 0;
  std::uint64_t rng_ = 0x9E3779B97F4A7C15ULL;  // reopen backoff jitter
  bool stopped_ = false;
};

void UdpConn::on_io(std::uint32_t events, Nanos now) {
  sink->handle(*this, events, now);
}

}  // namespace

std::unique_ptr<Sink> make_udp_sink(SinkContext& context) {
  return std::make_unique<UdpSink>(context);
}

}  // namespace lt
