#include "sinks/tcp_sink.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "net/socket_ops.hpp"
#include "sinks/echo_reader.hpp"
#include "sinks/wire_header.hpp"

namespace lt {
namespace {

// Unsent bytes a connection may hold before it says Busy: enough for a burst of coalesced
// messages, small enough that a stalled target pushes messages back into the counted backlog.
constexpr std::size_t kMaxBuffered = 256 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;

class TcpSink;

struct TcpConn final : IoHandler {
  enum class State : std::uint8_t { Idle, Connecting, Connected };
  TcpSink* sink = nullptr;
  std::uint32_t local = 0;
  std::uint32_t device = 0;
  int fd = -1;
  State state = State::Idle;
  bool want_write = false;  // EPOLLOUT registered: the kernel buffer was full
  bool dirty = false;       // in the sink's flush list
  bool owe_ready = false;   // said Busy: the worker is told once there is room again
  bool settled = false;     // first connection attempt ended
  bool ever_connected = false;
  unsigned attempt = 0;
  std::uint64_t generation = 0;  // stale timers compare against it
  std::vector<unsigned char> out;
  std::size_t out_written = 0;   // bytes of `out` already in the kernel
  std::size_t out_recorded = 0;  // bytes of `out` whose messages were counted as sent
  EchoReader echo;
  std::uint64_t outstanding = 0;  // echo: sent, not yet answered
  // Echo replies must come back in order with seqs we sent: anything else is not a completion.
  // Seqs rise across reconnects (they are the device's message numbers), so these persist.
  std::uint64_t max_sent_seq = 0;
  std::uint64_t last_answered_seq = 0;
  bool any_answered = false;
  Nanos connected_at = 0;
  Nanos connect_began = 0;

  void on_io(std::uint32_t events, Nanos now) override;
};

class TcpSink final : public Sink {
 public:
  explicit TcpSink(SinkContext& c) : c_(c), conns_(c.device_ids.size()) {
    rng_ = 0x2545F4914F6CDD1DULL ^ (c.device_ids.empty() ? 0 : c.device_ids[0] + 1);
    for (std::uint32_t i = 0; i < conns_.size(); ++i) {
      conns_[i].sink = this;
      conns_[i].local = i;
      conns_[i].device = std::uint32_t(c.device_ids[i]);
    }
  }
  ~TcpSink() override { close_all(); }

  void open(std::uint32_t local, Nanos now) override { connect(conns_[local], now); }
  std::uint32_t connected() const override { return connected_; }
  std::uint32_t settled() const override { return settled_; }

  Offer offer(std::uint32_t local, std::uint64_t seq, Nanos intended, Nanos now) override {
    TcpConn& conn = conns_[local];
    if (conn.state != TcpConn::State::Connected) return Offer::Down;
    // A full kernel buffer is absorbed by our own (bounded) buffer; only past that is it Busy.
    const std::size_t unsent = conn.out.size() - conn.out_recorded;
    if (conn.out.size() - conn.out_written >= kMaxBuffered ||
        (c_.options.echo && conn.outstanding + unsent / payload_ >= c_.options.inflight)) {
      conn.owe_ready = true;
      return Offer::Busy;
    }
    const std::size_t at = conn.out.size();
    conn.out.resize(at + payload_);
    write_wire_header(conn.out.data() + at,
                      WireHeader{std::uint32_t(payload_), conn.device, seq, intended, now});
    if (!conn.dirty) {
      conn.dirty = true;
      dirty_.push_back(local);
    }
    return Offer::Taken;
  }

  void flush(Nanos now) override {
    // ready() may offer more (a drained backlog), which marks connections dirty again.
    while (!dirty_.empty()) {
      flushing_.swap(dirty_);
      for (std::uint32_t local : flushing_) {
        TcpConn& conn = conns_[local];
        conn.dirty = false;
        if (conn.state != TcpConn::State::Connected) continue;
        if (!conn.want_write) write_out(conn, now);
        settle_busy(conn, now);
      }
      flushing_.clear();
    }
  }

  bool busy() const override {
    for (const auto& conn : conns_) {
      if (conn.state != TcpConn::State::Connected) continue;
      if (conn.out_written < conn.out.size() || conn.outstanding > 0) return true;
    }
    return false;
  }

  void stop(Nanos now) override {
    for (auto& conn : conns_) {
      if (conn.state == TcpConn::State::Connected) {
        write_out(conn, now);
        drop(conn, now, Counter::kCount);
      } else {
        close_fd(conn);
      }
    }
    stopped_ = true;
  }

  // Called by TcpConn::on_io.
  void handle(TcpConn& conn, std::uint32_t events, Nanos now);

 private:
  void connect(TcpConn& conn, Nanos now);
  void connect_done(TcpConn& conn, Nanos now);
  void write_out(TcpConn& conn, Nanos now);
  void record_written(TcpConn& conn, Nanos now);
  void read_in(TcpConn& conn, Nanos now);
  bool parse_echo(TcpConn& conn, std::size_t n, Nanos now);
  // Closes after a failure (or, with Counter::kCount, a clean stop) and schedules a reconnect.
  void drop(TcpConn& conn, Nanos now, Counter error);
  void close_fd(TcpConn& conn);
  void close_all() {
    for (auto& conn : conns_) close_fd(conn);
  }
  void settle_busy(TcpConn& conn, Nanos now) {
    if (conn.owe_ready && conn.fd >= 0 && conn.out.size() - conn.out_written < kMaxBuffered) {
      conn.owe_ready = false;
      c_.events.ready(conn.local, now);
    }
  }
  void update_interest(TcpConn& conn) {
    std::uint32_t ev = EPOLLIN | EPOLLRDHUP | (conn.want_write ? std::uint32_t(EPOLLOUT) : 0u);
    c_.loop.modify(conn.fd, ev, &conn);
  }

  SinkContext& c_;
  std::vector<TcpConn> conns_;
  std::vector<std::uint32_t> dirty_, flushing_;
  std::vector<unsigned char> rbuf_ = std::vector<unsigned char>(kReadChunk);
  std::vector<WireHeader> replies_;  // of one read, kept for its capacity
  std::size_t payload_ = c_.options.payload;
  std::uint32_t connected_ = 0;
  std::uint32_t settled_ = 0;
  std::uint64_t rng_;
  bool stopped_ = false;
};

void TcpConn::on_io(std::uint32_t events, Nanos now) {
  sink->handle(*this, events, now);
}

void TcpSink::connect(TcpConn& conn, Nanos now) {
  if (stopped_) return;
  conn.fd = dial(c_.target, conn.device, c_.options.peer_timeout);
  conn.connect_began = now;
  if (conn.fd < 0) {
    drop(conn, now, classify_errno(errno));
    return;
  }
  conn.state = TcpConn::State::Connecting;
  ++conn.generation;
  c_.loop.add(conn.fd, EPOLLOUT, &conn);
  const std::uint64_t gen = conn.generation;
  TcpConn* p = &conn;
  c_.loop.at(now + c_.options.connect_timeout, [this, p, gen](Nanos t) {
    if (p->generation == gen && p->state == TcpConn::State::Connecting)
      drop(*p, t, Counter::ErrConnectTimeout);
  });
}

void TcpSink::handle(TcpConn& conn, std::uint32_t events, Nanos now) {
  if (conn.fd < 0) return;  // stale event for a connection closed earlier in this batch
  if (conn.state == TcpConn::State::Connecting) {
    connect_done(conn, now);
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    read_in(conn, now);
    if (conn.fd < 0) return;
  }
  if ((events & EPOLLOUT) && conn.want_write) {
    conn.want_write = false;
    write_out(conn, now);
    if (conn.fd >= 0 && !conn.want_write) update_interest(conn);
    settle_busy(conn, now);
  }
}

void TcpSink::connect_done(TcpConn& conn, Nanos) {
  // Many connections complete in one batch of events: each reads its own time.
  const Nanos now = c_.clock.now();
  if (const int err = dial_error(conn.fd); err != 0) {
    drop(conn, now, classify_errno(err));
    return;
  }
  conn.state = TcpConn::State::Connected;
  c_.recorder.connected(conn.connect_began, now);
  if (conn.ever_connected || conn.attempt > 0) c_.recorder.count(Counter::Reconnects);
  conn.ever_connected = true;
  conn.connected_at = now;
  if (!conn.settled) {
    conn.settled = true;
    ++settled_;
  }
  ++connected_;
  update_interest(conn);
  c_.events.ready(conn.local, now);
}

void TcpSink::write_out(TcpConn& conn, Nanos) {
  // The send time is read here, not taken from the loop: with many connections flushed in one
  // pass, the last write happens well after the pass began. Messages not yet in the kernel get
  // it in their header, so lateness and the echo's service time use the real send.
  const Nanos now = c_.clock.now();
  const std::size_t begun = conn.out_written - conn.out_recorded;  // bytes of the first in flight
  const std::size_t first = conn.out_recorded + (begun + payload_ - 1) / payload_ * payload_;
  for (std::size_t at = first; at < conn.out.size(); at += payload_)
    wire_detail::put(conn.out.data() + at + 24, now);
  while (conn.out_written < conn.out.size()) {
    ssize_t n = ::send(conn.fd, conn.out.data() + conn.out_written,
                       conn.out.size() - conn.out_written, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      conn.out_written += std::size_t(n);
      c_.recorder.count(Counter::Writes);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      conn.want_write = true;
      update_interest(conn);
      break;
    }
    const int err = errno;
    record_written(conn, now);
    drop(conn, now, classify_io_errno(err));
    return;
  }
  record_written(conn, now);
}

// Counts the messages that are now wholly in the kernel, reading their own headers back, so no
// side table of send times is needed. `now` is when the write began (the actual send); without
// echo a message is complete when the kernel has taken it, read from the clock after the write.
void TcpSink::record_written(TcpConn& conn, Nanos now) {
  if (conn.out_recorded + payload_ > conn.out_written) return;
  Recorder& rec = c_.recorder;
  const bool echo = c_.options.echo;
  const Nanos done = echo ? now : c_.clock.now();
  while (conn.out_recorded + payload_ <= conn.out_written) {
    const unsigned char* p = conn.out.data() + conn.out_recorded;
    const Nanos intended = wire_detail::get<Nanos>(p + 16);
    const Nanos sent = wire_detail::get<Nanos>(p + 24);
    conn.max_sent_seq = wire_detail::get<std::uint64_t>(p + 8);
    rec.sent(intended, sent, payload_);
    if (echo) {
      ++conn.outstanding;
    } else {
      rec.completed(intended, sent, done);
    }
    conn.out_recorded += payload_;
  }
  if (conn.out_written == conn.out.size()) {
    conn.out.clear();
    conn.out_written = conn.out_recorded = 0;
  }
}

void TcpSink::read_in(TcpConn& conn, Nanos now) {
  for (;;) {
    ssize_t n = ::recv(conn.fd, rbuf_.data(), rbuf_.size(), MSG_DONTWAIT);
    if (n > 0) {
      // Read after the data is in hand: a reply stamped with the loop's earlier time could look
      // faster than it was (by however long this thread was away since).
      now = c_.clock.now();
      c_.recorder.count(Counter::BytesReceived, std::uint64_t(n));
      // Without --echo nothing is expected back; reading only notices a close.
      if (c_.options.echo && !parse_echo(conn, std::size_t(n), now)) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    drop(conn, now, n == 0 ? Counter::ErrClosed : classify_io_errno(errno));
    return;
  }
}

// Matches the echoed frames that the bytes just read finish against what was sent.
bool TcpSink::parse_echo(TcpConn& conn, std::size_t n, Nanos now) {
  const bool ok = conn.echo.feed(rbuf_.data(), n, replies_);
  for (const WireHeader& h : replies_) {
    if (h.device != conn.device || h.seq > conn.max_sent_seq) {
      c_.recorder.count(Counter::ErrMalformed);
    } else if (conn.outstanding == 0 || (conn.any_answered && h.seq <= conn.last_answered_seq)) {
      c_.recorder.count(Counter::Duplicates);
    } else {
      c_.recorder.completed(h.intended, h.sent, now);
      --conn.outstanding;
      conn.last_answered_seq = h.seq;
      conn.any_answered = true;
    }
  }
  if (!ok) {
    drop(conn, now, Counter::ErrMalformed);
    return false;
  }
  // Replies free in-flight slots; the worker drains the device's backlog if it has one.
  if (!replies_.empty()) c_.events.ready(conn.local, now);
  return true;
}

void TcpSink::close_fd(TcpConn& conn) {
  if (conn.fd >= 0) {
    c_.loop.remove(conn.fd);
    ::close(conn.fd);
    conn.fd = -1;
  }
}

void TcpSink::drop(TcpConn& conn, Nanos now, Counter error) {
  const bool clean = error == Counter::kCount;
  if (conn.state == TcpConn::State::Connected) {
    // Backoff starts over only for a connection that lived; one closed at once keeps growing it.
    if (now - conn.connected_at >= kSecond) conn.attempt = 0;
    --connected_;
    if (!clean) c_.recorder.count(Counter::Disconnects);
  }
  if (!clean) c_.recorder.count(error);
  if (clean && conn.fd >= 0) shutdown(conn.fd, SHUT_WR);
  close_fd(conn);
  // Taken but never wholly sent: those messages did not happen.
  const std::size_t unsent = conn.out.size() - conn.out_recorded;
  if (unsent) c_.recorder.count(Counter::Missed, unsent / payload_);
  c_.recorder.count(Counter::Lost, conn.outstanding);
  conn.out.clear();
  conn.out_written = conn.out_recorded = 0;
  conn.echo.clear();
  conn.outstanding = 0;
  conn.want_write = conn.owe_ready = false;
  conn.state = TcpConn::State::Idle;
  ++conn.generation;
  if (!conn.settled) {
    conn.settled = true;
    ++settled_;
  }
  if (clean || stopped_) return;
  const Nanos delay = reconnect_delay(conn.attempt++, rng_);
  const std::uint64_t gen = conn.generation;
  TcpConn* p = &conn;
  c_.loop.at(now + delay, [this, p, gen](Nanos t) {
    if (p->generation == gen && p->state == TcpConn::State::Idle) connect(*p, t);
  });
}

}  // namespace

std::unique_ptr<Sink> make_tcp_sink(SinkContext& context) {
  return std::make_unique<TcpSink>(context);
}

}  // namespace lt
