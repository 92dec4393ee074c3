#include "sinks/stream_client.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "net/socket_ops.hpp"

namespace lt {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
// The written prefix of a connection's buffer worth compacting away while the rest drains.
constexpr std::size_t kCompactAt = 256 * 1024;
std::atomic<bool> g_error_printed{false};
}  // namespace

void StreamConn::on_io(std::uint32_t events, Nanos now) {
  owner->handle(*this, events, now);
}

StreamClient::StreamClient(SinkContext& c, std::size_t connections, Nanos sweep_every)
    : c_(c), rbuf_(kReadChunk), sweep_every_(std::max<Nanos>(sweep_every, kMilli)) {
  if (c.options.tls.enabled) tls_ = std::make_unique<TlsContext>(c.options.tls);
  rng_ = 0x9E3779B97F4A7C15ULL ^ (c.device_ids.empty() ? 0 : c.device_ids[0] + 1);
  conns_.reserve(connections);  // never reallocated: epoll holds pointers into it
  for (std::uint32_t i = 0; i < connections; ++i)
    conns_.emplace_back(this, i, i < c.device_ids.size() ? c.device_ids[i] : i);
}

StreamClient::~StreamClient() {
  for (auto& conn : conns_) close_fd(conn);
}

void StreamClient::print_first_error(const char* what, const std::string& why) const {
  if (!g_error_printed.exchange(true))
    fmt::print(stderr, "load-tester: {} with {}:{} failed: {}\n", what, c_.options.hostname,
               c_.options.port, why);
}

bool StreamClient::refuse(StreamConn& conn, Nanos now, const char* what, std::string_view why) {
  print_first_error(what, std::string(why));
  close(conn, now, Counter::ErrBroker);
  return false;
}

bool StreamClient::malformed(StreamConn& conn, Nanos now, const char* protocol,
                             std::string_view why) {
  if (c_.options.verbose)
    fmt::print(stderr, "load-tester: malformed {} from {}:{}: {}\n", protocol, c_.options.hostname,
               c_.options.port, why);
  close(conn, now, Counter::ErrMalformed);
  return false;
}

Nanos StreamClient::peer_progress(StreamConn& conn, Nanos now) {
  const TcpProgress p = tcp_progress(conn.fd);
  if (p.acked != conn.acked_seen && (p.unsent > 0 || conn.write_stopped()))
    conn.acked_moved_at = now;
  conn.acked_seen = p.acked;
  return conn.acked_moved_at;
}

void StreamClient::mark_progress(StreamConn& conn) {
  conn.acked_seen = tcp_progress(conn.fd).acked;
}

void StreamClient::open_conn(StreamConn& conn, Nanos now) {
  if (stopped_) return;
  if (!sweeping_) {
    sweeping_ = true;
    c_.loop.at(now + sweep_every_, [this](Nanos t) { sweep(t); });
  }
  conn.connect_began = now;
  conn.acked_seen = 0;
  conn.acked_moved_at = 0;
  conn.fd = dial(c_.target, conn.device, c_.options.peer_timeout);
  if (conn.fd < 0) {
    close(conn, now, classify_errno(errno));
    return;
  }
  conn.state = StreamConn::State::Connecting;
  ++conn.generation;
  c_.loop.add(conn.fd, EPOLLOUT, &conn);
  conn.out_registered = true;
}

void StreamClient::handle(StreamConn& conn, std::uint32_t events, Nanos now) {
  if (conn.fd < 0) return;  // stale event for a connection closed earlier in this batch
  switch (conn.state) {
    case StreamConn::State::Connecting:
      connect_done(conn);
      return;
    case StreamConn::State::Handshaking:
      step_handshake(conn, c_.clock.now());
      return;
    default:
      break;
  }
  const bool readable = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  const bool writable = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
  // Each stopped operation is retried on the event it waits for (TLS may need the other one).
  if (readable || (writable && conn.read_waits_write)) {
    conn.read_waits_write = false;
    read_in(conn, now);
    if (conn.fd < 0) return;
  }
  if ((writable && conn.write_waits) || (readable && conn.write_waits_read)) {
    conn.write_waits = conn.write_waits_read = false;
    write_out(conn, now);
    if (conn.fd < 0) return;
  }
  sync_interest(conn);
}

void StreamClient::connect_done(StreamConn& conn) {
  // Many connections complete in one batch of events: each reads its own time.
  const Nanos now = c_.clock.now();
  if (const int err = dial_error(conn.fd); err != 0) {
    close(conn, now, classify_errno(err));
    return;
  }
  c_.recorder.connected(conn.connect_began, now);
  if (!tls_ || !tls_first()) {
    conn.state = StreamConn::State::Open;
    conn.opened_at = now;
    sync_interest(conn);
    on_open(conn, now);
    return;
  }
  start_tls(conn, now);
}

void StreamClient::start_tls(StreamConn& conn, Nanos now) {
  conn.state = StreamConn::State::Handshaking;
  conn.tls = std::make_unique<TlsSession>(*tls_, conn.fd, c_.options.hostname);
  conn.handshake_began = now;
  step_handshake(conn, now);
}

void StreamClient::step_handshake(StreamConn& conn, Nanos now) {
  const TlsIo status = conn.tls->handshake();
  switch (status) {
    case TlsIo::Done:
      c_.recorder.handshake.record(c_.clock.now() - conn.handshake_began);
      conn.state = StreamConn::State::Open;
      conn.opened_at = now;
      conn.read_waits_write = false;
      sync_interest(conn);
      on_open(conn, now);
      return;
    case TlsIo::WantRead:
    case TlsIo::WantWrite:
      // The handshake is retried on any event; EPOLLOUT only while it must write.
      conn.read_waits_write = status == TlsIo::WantWrite;
      sync_interest(conn);
      return;
    default:
      print_first_error("TLS handshake", conn.tls->error());
      close(conn, now, Counter::ErrTls);
  }
}

void StreamClient::open(std::uint32_t local, Nanos now) {
  open_conn(conns_[local], now);
  if (local == 0)
    for (std::size_t i = c_.device_ids.size(); i < conns_.size(); ++i) open_conn(conns_[i], now);
}

void StreamClient::mark_ready(StreamConn& conn, Nanos now) {
  conn.ready = true;
  conn.ready_at = now;
  if (conn.ever_ready || conn.attempt > 0) c_.recorder.count(Counter::Reconnects);
  conn.ever_ready = true;
  const bool device = conn.index < c_.device_ids.size();
  if (!conn.settled) {
    conn.settled = true;
    ++(device ? settled_ : helpers_settled_);
  }
  if (device) {
    ++ready_;
    c_.events.ready(conn.index, now);
  }
}

void StreamClient::mark_dirty(StreamConn& conn) {
  if (conn.dirty) return;
  conn.dirty = true;
  dirty_.push_back(conn.index);
}

void StreamClient::flush(Nanos now) {
  // ready() may offer more (a drained backlog), which marks connections dirty again.
  while (!dirty_.empty()) {
    flushing_.swap(dirty_);
    for (std::uint32_t i : flushing_) {
      StreamConn& conn = conns_[i];
      conn.dirty = false;
      if (conn.state == StreamConn::State::Open && !conn.write_stopped()) write_out(conn, now);
    }
    flushing_.clear();
  }
}

// EPOLLIN always; EPOLLOUT only while a write or a TLS read waits for writability (level-
// triggered: registered on a writable socket it would fire on every turn).
void StreamClient::sync_interest(StreamConn& conn) {
  const bool out = conn.write_waits || conn.read_waits_write;
  if (out == conn.out_registered) return;
  conn.out_registered = out;
  c_.loop.modify(conn.fd, EPOLLIN | EPOLLRDHUP | (out ? std::uint32_t(EPOLLOUT) : 0u), &conn);
}

std::size_t StreamClient::io(StreamConn& conn, bool write, char* data, std::size_t size,
                             TlsIo& status, int& err) {
  err = 0;
  if (conn.tls) {
    std::size_t moved = 0;
    status = write ? conn.tls->write(data, size, moved) : conn.tls->read(data, size, moved);
    if (status == TlsIo::Failed) err = conn.tls->sys_errno();
    return status == TlsIo::Done ? moved : 0;
  }
  for (;;) {
    const ssize_t n = write ? ::send(conn.fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT)
                            : ::recv(conn.fd, data, size, MSG_DONTWAIT);
    if (n > 0) {
      status = TlsIo::Done;
      return std::size_t(n);
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      status = TlsIo::Closed;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      status = write ? TlsIo::WantWrite : TlsIo::WantRead;
    } else {
      status = TlsIo::Failed;
      err = errno;
    }
    return 0;
  }
}

// A failure of the TLS layer itself (a bad record, a refused client certificate) rather than of
// the socket under it is err_tls.
Counter StreamClient::io_error(StreamConn& conn, TlsIo status, int err) {
  if (status == TlsIo::Closed) return Counter::ErrClosed;
  if (err != 0) return classify_io_errno(err);
  if (conn.tls) {
    print_first_error("TLS session", conn.tls->error());
    return Counter::ErrTls;
  }
  return Counter::ErrSend;
}

void StreamClient::write_out(StreamConn& conn, Nanos) {
  // The send time is read here, not taken from the loop: a flush over many connections takes a
  // while, and the protocol stamps messages not yet begun with it.
  const Nanos now = c_.clock.now();
  before_write(conn, now);
  bool moved = false;
  while (conn.out_at < conn.out.size()) {
    TlsIo status;
    int err;
    const std::size_t n =
        io(conn, true, conn.out.data() + conn.out_at, conn.out.size() - conn.out_at, status, err);
    if (n > 0) {
      conn.out_at += n;
      conn.written += n;
      moved = true;
      // Messages per write is the devices' figure: helpers' acks and replies are not in it.
      if (conn.index < c_.device_ids.size()) c_.recorder.count(Counter::Writes);
      continue;
    }
    if (status == TlsIo::WantWrite || status == TlsIo::WantRead) {
      (status == TlsIo::WantWrite ? conn.write_waits : conn.write_waits_read) = true;
      sync_interest(conn);
      break;
    }
    if (moved) on_written(conn, now);
    // A server that answers and closes makes the write fail: take what it said first.
    const Counter why = io_error(conn, status, err);
    const std::uint64_t generation = conn.generation;
    read_in(conn, now);
    if (conn.generation == generation) close(conn, now, why);
    return;
  }
  if (moved) on_written(conn, now);
  if (conn.out_at == conn.out.size()) {
    conn.out.clear();
    conn.out_at = 0;
  } else if (conn.out_at >= kCompactAt) {
    conn.out.erase(0, conn.out_at);  // a big backlog drains slowly: keep only what is owed
    conn.out_at = 0;
  }
}

void StreamClient::read_in(StreamConn& conn, Nanos now) {
  for (;;) {
    TlsIo status;
    int err;
    const std::size_t n = io(conn, false, rbuf_.data(), rbuf_.size(), status, err);
    if (n > 0) {
      // Stamped after the data is in hand, never with the loop's earlier time.
      now = c_.clock.now();
      c_.recorder.count(Counter::BytesReceived, n);
      if (!on_data(conn, rbuf_.data(), n, now)) return;
      // A short plain read drained the socket: asking again would only return EAGAIN, one
      // syscall per reply for nothing (epoll is level-triggered and reports what comes next).
      if (!conn.tls && n < rbuf_.size()) return;
      continue;
    }
    if (status == TlsIo::WantRead) return;
    if (status == TlsIo::WantWrite) {  // TLS must write before it can read on
      conn.read_waits_write = true;
      sync_interest(conn);
      return;
    }
    if (status == TlsIo::Closed) {
      on_peer_closed(conn, now);
    } else {
      close(conn, now, io_error(conn, status, err));
    }
    return;
  }
}

void StreamClient::sweep(Nanos now) {
  if (stopped_) return;
  for (auto& conn : conns_) {
    // One bound for the TCP connect, the TLS handshake and the protocol's own handshake.
    const bool opening = conn.state == StreamConn::State::Connecting ||
                         conn.state == StreamConn::State::Handshaking ||
                         (conn.state == StreamConn::State::Open && !conn.ready);
    if (opening && now - conn.connect_began >= c_.options.connect_timeout) {
      close(conn, now, Counter::ErrConnectTimeout);
      continue;
    }
    if (conn.ready) on_sweep(conn, now);
  }
  c_.loop.at(now + sweep_every_, [this](Nanos t) { sweep(t); });
}

void StreamClient::close_fd(StreamConn& conn) {
  if (conn.fd >= 0) {
    c_.loop.remove(conn.fd);
    ::close(conn.fd);
    conn.fd = -1;
  }
  conn.tls.reset();
}

void StreamClient::close(StreamConn& conn, Nanos now, Counter error) {
  const bool clean = error == Counter::kCount;
  const bool device = conn.index < c_.device_ids.size();
  if (conn.ready) {
    // Backoff starts over only for a connection that lived; one closed at once keeps growing it.
    if (clean || now - conn.ready_at >= kSecond) conn.attempt = 0;
    if (device) --ready_;
    if (!clean) c_.recorder.count(Counter::Disconnects);
  }
  if (!clean) c_.recorder.count(error);
  if (clean && conn.fd >= 0 && conn.state == StreamConn::State::Open && !conn.tls)
    shutdown(conn.fd, SHUT_WR);
  close_fd(conn);
  on_close(conn, now, clean);
  conn.out.clear();
  conn.out_at = 0;
  conn.written = 0;
  conn.out_registered = conn.write_waits = conn.write_waits_read = conn.read_waits_write = false;
  conn.ready = false;
  conn.state = StreamConn::State::Idle;
  ++conn.generation;
  if (!conn.settled) {
    conn.settled = true;
    ++(device ? settled_ : helpers_settled_);
  }
  if (stopped_) return;
  const Nanos delay = clean ? 0 : reconnect_delay(conn.attempt++, rng_);
  const std::uint64_t gen = conn.generation;
  StreamConn* p = &conn;
  c_.loop.at(now + delay, [this, p, gen](Nanos t) {
    if (p->generation == gen && p->state == StreamConn::State::Idle) open_conn(*p, t);
  });
}

void StreamClient::stop_all(Nanos now) {
  stopped_ = true;
  for (auto& conn : conns_) {
    if (conn.state == StreamConn::State::Open) {
      close(conn, now, Counter::kCount);
    } else {
      close_fd(conn);
    }
  }
}

}  // namespace lt
