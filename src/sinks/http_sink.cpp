#include "sinks/http_sink.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <optional>
#include <vector>

#include "http/request.hpp"
#include "http/response_parser.hpp"
#include "net/socket_ops.hpp"
#include "net/tls.hpp"

namespace lt {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
// Unwritten request bytes a connection may hold before it says Busy (beyond one request), so a
// server that stops reading big bodies pushes requests back into the counted backlog instead
// of into memory; and the written prefix that is worth compacting away.
constexpr std::size_t kMaxBuffered = 256 * 1024;

// A request the connection has taken, until its response. `end` is the stream offset just past
// its last byte, so "wholly written" is a comparison with the bytes written so far.
struct Pending {
  Nanos intended;
  Nanos sent;
  std::uint64_t end;
};

// The requests of one connection in order, at most --pipeline of them: a fixed ring, because
// responses come back in request order and nothing is ever removed from the middle.
class PendingRing {
 public:
  explicit PendingRing(std::uint32_t capacity) : slots_(capacity) {}
  std::uint32_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Pending& operator[](std::uint32_t i) { return slots_[(head_ + i) % slots_.size()]; }
  void push(const Pending& p) { slots_[(head_ + size_++) % slots_.size()] = p; }
  void pop() {
    head_ = (head_ + 1) % std::uint32_t(slots_.size());
    --size_;
  }
  void clear() { head_ = size_ = 0; }

 private:
  std::vector<Pending> slots_;
  std::uint32_t head_ = 0, size_ = 0;
};

class HttpSink;

struct HttpConn final : IoHandler {
  enum class State : std::uint8_t { Idle, Connecting, Handshaking, Connected };
  HttpConn(HttpSink* s, std::uint32_t l, std::uint32_t d, std::uint32_t pipeline)
      : sink(s), local(l), device(d), pending(pipeline) {}
  HttpSink* sink;
  std::uint32_t local;
  std::uint32_t device;
  int fd = -1;
  State state = State::Idle;
  bool out_registered = false;    // EPOLLOUT is in the epoll interest
  bool write_waits = false;       // a write stopped until the socket is writable
  bool write_waits_read = false;  // TLS: a write stopped until the socket is readable
  bool read_waits_write = false;  // TLS: a read stopped until the socket is writable
  bool dirty = false;             // in the sink's flush list
  bool owe_ready = false;         // said Busy: the worker is told once a slot frees
  bool settled = false;           // first connection attempt ended
  bool ever_connected = false;
  unsigned attempt = 0;
  std::uint64_t generation = 0;           // stale timers compare against it
  std::string out;                        // request bytes not yet wholly written
  std::size_t out_at = 0;                 // of which already written
  std::uint64_t queued = 0, written = 0;  // stream offsets since the connection began
  PendingRing pending;
  std::uint32_t stamped = 0;    // pending requests whose send time is set
  std::uint32_t recorded = 0;   // pending requests counted as sent (wholly written)
  std::uint64_t responses = 0;  // completed on this connection: a close before any is an error
  http::ResponseParser parser;
  std::unique_ptr<TlsSession> tls;
  Nanos connect_began = 0, connected_at = 0, handshake_began = 0;

  bool write_stopped() const { return write_waits || write_waits_read; }

  void on_io(std::uint32_t events, Nanos now) override;
};

// The first TLS failure of the process is printed as it happens: a verification error is the
// one thing a user must read to fix a run, and every device would otherwise only count it.
std::atomic<bool> g_tls_error_printed{false};

class HttpSink final : public Sink {
 public:
  explicit HttpSink(SinkContext& c)
      : c_(c), request_(http::build_request(c.options)), head_(c.options.http.method == "HEAD") {
    if (c.options.tls.enabled) tls_ = std::make_unique<TlsContext>(c.options.tls);
    rng_ = 0x9E3779B97F4A7C15ULL ^ (c.device_ids.empty() ? 0 : c.device_ids[0] + 1);
    conns_.reserve(c.device_ids.size());
    for (std::uint32_t i = 0; i < c.device_ids.size(); ++i)
      conns_.emplace_back(this, i, std::uint32_t(c.device_ids[i]), c.options.http.pipeline);
    // One sweep enforces --timeout and --connect-timeout for every connection: no timer per
    // request or per connection attempt (a reconnect storm would fill the timer heap).
    sweep_every_ =
        std::max<Nanos>(std::min(c.options.timeout, c.options.connect_timeout) / 8, kMilli);
  }
  ~HttpSink() override {
    for (auto& conn : conns_) close_fd(conn);
  }

  void open(std::uint32_t local, Nanos now) override {
    if (!sweeping_) {
      sweeping_ = true;
      c_.loop.at(now + sweep_every_, [this](Nanos t) { sweep(t); });
    }
    connect(conns_[local], now);
  }
  std::uint32_t connected() const override { return connected_; }
  std::uint32_t settled() const override { return settled_; }

  Offer offer(std::uint32_t local, std::uint64_t, Nanos intended, Nanos) override {
    HttpConn& conn = conns_[local];
    if (conn.state != HttpConn::State::Connected) return Offer::Down;
    if (conn.pending.size() >= c_.options.http.pipeline ||
        (!conn.pending.empty() && conn.out.size() - conn.out_at >= kMaxBuffered)) {
      conn.owe_ready = true;
      return Offer::Busy;
    }
    conn.out += request_;
    conn.queued += request_.size();
    conn.pending.push({intended, -1, conn.queued});
    if (!conn.dirty) {
      conn.dirty = true;
      dirty_.push_back(local);
    }
    return Offer::Taken;
  }

  void flush(Nanos now) override {
    while (!dirty_.empty()) {
      flushing_.swap(dirty_);
      for (std::uint32_t local : flushing_) {
        HttpConn& conn = conns_[local];
        conn.dirty = false;
        if (conn.state == HttpConn::State::Connected && !conn.write_stopped()) write_out(conn, now);
      }
      flushing_.clear();
    }
  }

  bool busy() const override {
    for (const auto& conn : conns_)
      if (conn.state == HttpConn::State::Connected && !conn.pending.empty()) return true;
    return false;
  }

  void stop(Nanos now) override {
    stopped_ = true;
    for (auto& conn : conns_) {
      if (conn.state == HttpConn::State::Connected) {
        drop(conn, now, Counter::kCount);
      } else {
        close_fd(conn);
      }
    }
  }

  void handle(HttpConn& conn, std::uint32_t events, Nanos now);

 private:
  void connect(HttpConn& conn, Nanos now);
  void connect_done(HttpConn& conn);
  void step_handshake(HttpConn& conn, Nanos now);
  void become_ready(HttpConn& conn, Nanos now);
  void write_out(HttpConn& conn, Nanos now);
  void record_written(HttpConn& conn);
  void read_in(HttpConn& conn, Nanos now);
  bool parse(HttpConn& conn, const char* data, std::size_t size, Nanos now);
  void complete(HttpConn& conn, Nanos now);
  void peer_closed(HttpConn& conn, Nanos now);
  void sweep(Nanos now);
  // Closes after a failure and reconnects with backoff; Counter::kCount is a clean close (end
  // of run, or the server's "Connection: close"), which reconnects at once unless stopping.
  void drop(HttpConn& conn, Nanos now, Counter error);
  void close_fd(HttpConn& conn);
  // EPOLLIN always; EPOLLOUT only while a write or a TLS read waits for writability (level-
  // triggered: registered on a writable socket it would fire on every turn).
  void sync_interest(HttpConn& conn) {
    const bool out = conn.write_waits || conn.read_waits_write;
    if (out == conn.out_registered) return;
    conn.out_registered = out;
    c_.loop.modify(conn.fd, EPOLLIN | EPOLLRDHUP | (out ? std::uint32_t(EPOLLOUT) : 0u), &conn);
  }
  // A failure of the TLS layer itself (a bad record, a refused client certificate) rather than
  // of the socket under it.
  Counter io_error(HttpConn& conn, TlsIo status, int err);
  void print_tls_error(HttpConn& conn, const char* when);
  // Bytes moved by one read or write on the plain or TLS stream; 0 with `status` otherwise.
  std::size_t io(HttpConn& conn, bool write, char* data, std::size_t size, TlsIo& status, int& err);

  SinkContext& c_;
  const std::string request_;
  const bool head_;
  std::unique_ptr<TlsContext> tls_;
  std::vector<HttpConn> conns_;
  std::vector<std::uint32_t> dirty_, flushing_;
  std::vector<char> rbuf_ = std::vector<char>(kReadChunk);
  std::uint32_t connected_ = 0, settled_ = 0;
  std::uint64_t rng_;
  Nanos sweep_every_;
  bool sweeping_ = false;
  bool stopped_ = false;
};

void HttpConn::on_io(std::uint32_t events, Nanos now) {
  sink->handle(*this, events, now);
}

void HttpSink::connect(HttpConn& conn, Nanos now) {
  if (stopped_) return;
  conn.fd = dial(c_.target, conn.device);
  conn.connect_began = now;
  if (conn.fd < 0) {
    drop(conn, now, classify_errno(errno));
    return;
  }
  conn.state = HttpConn::State::Connecting;
  ++conn.generation;
  c_.loop.add(conn.fd, EPOLLOUT, &conn);
  conn.out_registered = true;
}

void HttpSink::handle(HttpConn& conn, std::uint32_t events, Nanos now) {
  if (conn.fd < 0) return;  // stale event for a connection closed earlier in this batch
  switch (conn.state) {
    case HttpConn::State::Connecting:
      connect_done(conn);
      return;
    case HttpConn::State::Handshaking:
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

void HttpSink::connect_done(HttpConn& conn) {
  // Many connections complete in one batch of events: each reads its own time.
  const Nanos now = c_.clock.now();
  if (const int err = dial_error(conn.fd); err != 0) {
    drop(conn, now, classify_errno(err));
    return;
  }
  c_.recorder.connected(conn.connect_began, now);
  if (!tls_) {
    become_ready(conn, now);
    return;
  }
  conn.state = HttpConn::State::Handshaking;
  conn.tls = std::make_unique<TlsSession>(*tls_, conn.fd, c_.options.hostname);
  conn.handshake_began = now;
  step_handshake(conn, now);
}

void HttpSink::step_handshake(HttpConn& conn, Nanos now) {
  const TlsIo status = conn.tls->handshake();
  switch (status) {
    case TlsIo::Done:
      c_.recorder.handshake.record(c_.clock.now() - conn.handshake_began);
      become_ready(conn, now);
      return;
    case TlsIo::WantRead:
    case TlsIo::WantWrite:
      // The handshake is retried on any event; EPOLLOUT only while it must write.
      conn.read_waits_write = status == TlsIo::WantWrite;
      sync_interest(conn);
      return;
    default:
      print_tls_error(conn, "handshake");
      drop(conn, now, Counter::ErrTls);
  }
}

void HttpSink::print_tls_error(HttpConn& conn, const char* when) {
  if (!g_tls_error_printed.exchange(true))
    fmt::print(stderr, "load-tester: TLS {} with {}:{} failed: {}\n", when, c_.options.hostname,
               c_.options.port, conn.tls->error());
}

Counter HttpSink::io_error(HttpConn& conn, TlsIo status, int err) {
  if (status == TlsIo::Closed) return Counter::ErrClosed;
  if (err != 0) return classify_errno(err);
  if (conn.tls) {
    print_tls_error(conn, "session");
    return Counter::ErrTls;
  }
  return Counter::ErrSend;
}

void HttpSink::become_ready(HttpConn& conn, Nanos now) {
  conn.state = HttpConn::State::Connected;
  if (conn.ever_connected || conn.attempt > 0) c_.recorder.count(Counter::Reconnects);
  conn.ever_connected = true;
  conn.connected_at = now;
  conn.parser.expect(head_);
  if (!conn.settled) {
    conn.settled = true;
    ++settled_;
  }
  ++connected_;
  conn.read_waits_write = false;
  sync_interest(conn);
  c_.events.ready(conn.local, now);
}

std::size_t HttpSink::io(HttpConn& conn, bool write, char* data, std::size_t size, TlsIo& status,
                         int& err) {
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

void HttpSink::write_out(HttpConn& conn, Nanos) {
  // Requests not yet begun take the time of this write as their send time: read here, not from
  // the loop, because a flush over many connections takes a while.
  const Nanos now = c_.clock.now();
  for (; conn.stamped < conn.pending.size(); ++conn.stamped) conn.pending[conn.stamped].sent = now;
  while (conn.out_at < conn.out.size()) {
    TlsIo status;
    int err;
    const std::size_t n =
        io(conn, true, conn.out.data() + conn.out_at, conn.out.size() - conn.out_at, status, err);
    if (n > 0) {
      conn.out_at += n;
      conn.written += n;
      c_.recorder.count(Counter::Writes);
      continue;
    }
    if (status == TlsIo::WantWrite || status == TlsIo::WantRead) {
      (status == TlsIo::WantWrite ? conn.write_waits : conn.write_waits_read) = true;
      sync_interest(conn);
      break;
    }
    record_written(conn);
    // A server that answers early and closes makes the write fail: take what it said first,
    // so an answered request is not counted as never sent.
    const Counter why = io_error(conn, status, err);
    const std::uint64_t generation = conn.generation;
    read_in(conn, now);
    if (conn.generation == generation) drop(conn, now, why);
    return;
  }
  record_written(conn);
  if (conn.out_at == conn.out.size()) {
    conn.out.clear();
    conn.out_at = 0;
  } else if (conn.out_at >= kMaxBuffered) {
    conn.out.erase(0, conn.out_at);  // a big pipeline drains slowly: keep only what is owed
    conn.out_at = 0;
  }
}

void HttpSink::record_written(HttpConn& conn) {
  for (; conn.recorded < conn.pending.size() && conn.pending[conn.recorded].end <= conn.written;
       ++conn.recorded) {
    const Pending& p = conn.pending[conn.recorded];
    c_.recorder.sent(p.intended, p.sent, request_.size());
  }
}

void HttpSink::read_in(HttpConn& conn, Nanos now) {
  for (;;) {
    TlsIo status;
    int err;
    const std::size_t n = io(conn, false, rbuf_.data(), rbuf_.size(), status, err);
    if (n > 0) {
      // Stamped after the data is in hand, never with the loop's earlier time.
      now = c_.clock.now();
      c_.recorder.count(Counter::BytesReceived, n);
      if (!parse(conn, rbuf_.data(), n, now)) return;
      // A short plain read drained the socket: asking again would only return EAGAIN, one
      // syscall per response for nothing (epoll is level-triggered and reports what comes next).
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
      peer_closed(conn, now);
    } else {
      drop(conn, now, io_error(conn, status, err));
    }
    return;
  }
}

// Feeds the bytes to the parser, completing responses in order. False once the connection
// was closed (a malformed response, or the server's "Connection: close").
bool HttpSink::parse(HttpConn& conn, const char* data, std::size_t size, Nanos now) {
  bool freed = false;
  std::size_t off = 0;
  while (off < size) {
    if (conn.pending.empty()) {  // bytes no request asked for
      drop(conn, now, Counter::ErrMalformed);
      return false;
    }
    http::ResponseParser::Result result;
    off += conn.parser.feed(data + off, size - off, result);
    if (result == http::ResponseParser::Result::Error) {
      if (c_.options.verbose)
        fmt::print(stderr, "load-tester: malformed response from {}:{}: {}\n", c_.options.hostname,
                   c_.options.port, conn.parser.error());
      drop(conn, now, Counter::ErrMalformed);
      return false;
    }
    if (result != http::ResponseParser::Result::Done) break;
    const bool keep_alive = conn.parser.response().keep_alive;
    complete(conn, now);
    freed = true;
    if (!keep_alive) {
      // Requests pipelined behind the last response will not be answered: sent and lost, so
      // the close is an error; with none behind it, the server's right.
      drop(conn, now, conn.pending.empty() ? Counter::kCount : Counter::ErrClosed);
      return false;
    }
    conn.parser.expect(head_);
  }
  if (freed && conn.owe_ready) {
    conn.owe_ready = false;
    c_.events.ready(conn.local, now);
  }
  return true;
}

void HttpSink::complete(HttpConn& conn, Nanos now) {
  Pending& p = conn.pending[0];
  // A server may answer before it has read the whole request (an early 413, say): the request
  // still happened, counted as sent when it began.
  if (conn.recorded == 0) {
    if (p.sent < 0) p.sent = now;
    c_.recorder.sent(p.intended, p.sent, request_.size());
  } else {
    --conn.recorded;
  }
  if (conn.stamped > 0) --conn.stamped;
  c_.recorder.completed(p.intended, p.sent, now);
  ++conn.responses;
  const int status = conn.parser.response().status;
  if (status >= 200 && status < 600)
    c_.recorder.count(Counter(std::size_t(Counter::Status2xx) + std::size_t(status / 100 - 2)));
  conn.pending.pop();
}

void HttpSink::peer_closed(HttpConn& conn, Nanos now) {
  // A body that runs until the close ends here.
  if (!conn.pending.empty() && conn.parser.close() == http::ResponseParser::Result::Done) {
    complete(conn, now);
  }
  // Closing an idle keep-alive connection is the server's right. With requests unanswered, or
  // before answering anything (a server out of connections accepts and closes), it is an error
  // and the reconnect backs off.
  const bool idle_close = conn.pending.empty() && conn.responses > 0;
  drop(conn, now, idle_close ? Counter::kCount : Counter::ErrClosed);
}

void HttpSink::sweep(Nanos now) {
  if (stopped_) return;
  const Nanos timeout = c_.options.timeout;
  for (auto& conn : conns_) {
    // One bound for the TCP connect and the TLS handshake together.
    if ((conn.state == HttpConn::State::Connecting || conn.state == HttpConn::State::Handshaking) &&
        now - conn.connect_began >= c_.options.connect_timeout) {
      drop(conn, now, Counter::ErrConnectTimeout);
      continue;
    }
    if (conn.state != HttpConn::State::Connected || conn.pending.empty()) continue;
    const Pending& oldest = conn.pending[0];
    // A request still in our buffer (the server stopped reading) ages from its intended time.
    if (now - (oldest.sent >= 0 ? oldest.sent : oldest.intended) >= timeout)
      drop(conn, now, Counter::ErrTimeout);
  }
  c_.loop.at(now + sweep_every_, [this](Nanos t) { sweep(t); });
}

void HttpSink::close_fd(HttpConn& conn) {
  if (conn.fd >= 0) {
    c_.loop.remove(conn.fd);
    ::close(conn.fd);
    conn.fd = -1;
  }
  conn.tls.reset();
}

void HttpSink::drop(HttpConn& conn, Nanos now, Counter error) {
  const bool clean = error == Counter::kCount;
  if (conn.state == HttpConn::State::Connected) {
    // Backoff starts over only for a connection that lived; one closed at once keeps growing it.
    if (clean || now - conn.connected_at >= kSecond) conn.attempt = 0;
    --connected_;
    if (!clean) c_.recorder.count(Counter::Disconnects);
  }
  if (!clean) c_.recorder.count(error);
  close_fd(conn);
  // Requests wholly written are lost (unanswered); the rest never left: missed.
  c_.recorder.count(Counter::Lost, conn.recorded);
  c_.recorder.count(Counter::Missed, conn.pending.size() - conn.recorded);
  conn.pending.clear();
  conn.stamped = conn.recorded = 0;
  conn.out.clear();
  conn.out_at = 0;
  conn.queued = conn.written = 0;
  conn.out_registered = conn.write_waits = conn.write_waits_read = conn.read_waits_write = false;
  conn.owe_ready = false;  // the reconnect's ready() tells the worker
  conn.responses = 0;
  conn.state = HttpConn::State::Idle;
  ++conn.generation;
  if (!conn.settled) {
    conn.settled = true;
    ++settled_;
  }
  if (stopped_) return;
  const Nanos delay = clean ? 0 : reconnect_delay(conn.attempt++, rng_);
  const std::uint64_t gen = conn.generation;
  HttpConn* p = &conn;
  c_.loop.at(now + delay, [this, p, gen](Nanos t) {
    if (p->generation == gen && p->state == HttpConn::State::Idle) connect(*p, t);
  });
}

}  // namespace

std::unique_ptr<Sink> make_http_sink(SinkContext& context) {
  return std::make_unique<HttpSink>(context);
}

}  // namespace lt
