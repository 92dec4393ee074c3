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
  bool want_write = false;  // EPOLLOUT registered: the kernel (or TLS) cannot take more now
  bool dirty = false;       // in the sink's flush list
  bool owe_ready = false;   // said Busy: the worker is told once a slot frees
  bool settled = false;     // first connection attempt ended
  bool ever_connected = false;
  unsigned attempt = 0;
  std::uint64_t generation = 0;           // stale timers compare against it
  std::string out;                        // request bytes not yet wholly written
  std::size_t out_at = 0;                 // of which already written
  std::uint64_t queued = 0, written = 0;  // stream offsets since the connection began
  PendingRing pending;
  std::uint32_t stamped = 0;   // pending requests whose send time is set
  std::uint32_t recorded = 0;  // pending requests counted as sent (wholly written)
  http::ResponseParser parser;
  std::unique_ptr<TlsSession> tls;
  Nanos connect_began = 0, connected_at = 0, handshake_began = 0;

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
    sweep_every_ = std::max<Nanos>(c.options.timeout / 4, kMilli);
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
    if (conn.pending.size() >= c_.options.http.pipeline) {
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
        if (conn.state == HttpConn::State::Connected && !conn.want_write) write_out(conn, now);
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
  void set_interest(HttpConn& conn, bool write) {
    conn.want_write = write;
    c_.loop.modify(conn.fd, EPOLLIN | EPOLLRDHUP | (write ? std::uint32_t(EPOLLOUT) : 0u), &conn);
  }
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
  const std::uint64_t gen = conn.generation;
  HttpConn* p = &conn;
  // One bound for the TCP connect and the TLS handshake together.
  c_.loop.at(now + c_.options.connect_timeout, [this, p, gen](Nanos t) {
    if (p->generation == gen &&
        (p->state == HttpConn::State::Connecting || p->state == HttpConn::State::Handshaking))
      drop(*p, t, Counter::ErrConnectTimeout);
  });
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
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    read_in(conn, now);
    if (conn.fd < 0) return;
  }
  // TLS may need to read before it can write again, so any event retries a waiting write.
  if (conn.want_write && conn.out_at < conn.out.size()) {
    set_interest(conn, false);
    write_out(conn, now);
  }
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
  switch (conn.tls->handshake()) {
    case TlsIo::Done:
      c_.recorder.handshake.record(c_.clock.now() - conn.handshake_began);
      become_ready(conn, now);
      return;
    case TlsIo::WantRead:
      set_interest(conn, false);
      return;
    case TlsIo::WantWrite:
      set_interest(conn, true);
      return;
    default:
      if (!g_tls_error_printed.exchange(true))
        fmt::print(stderr, "load-tester: TLS handshake with {}:{} failed: {}\n",
                   c_.options.hostname, c_.options.port, conn.tls->error());
      drop(conn, now, Counter::ErrTls);
  }
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
  set_interest(conn, false);
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
      set_interest(conn, true);
      break;
    }
    record_written(conn);
    drop(conn, now, status == TlsIo::Closed || err == 0 ? Counter::ErrClosed : classify_errno(err));
    return;
  }
  record_written(conn);
  if (conn.out_at == conn.out.size()) {
    conn.out.clear();
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
    if (status == TlsIo::WantWrite) {  // TLS wants to write before it can read on
      set_interest(conn, true);
      return;
    }
    if (status == TlsIo::Closed) {
      peer_closed(conn, now);
    } else {
      drop(conn, now, err == 0 ? Counter::ErrSend : classify_errno(err));
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
      drop(conn, now, Counter::kCount);
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
  // Closing an idle keep-alive connection is the server's right; with requests unanswered it
  // is an error.
  drop(conn, now, conn.pending.empty() ? Counter::kCount : Counter::ErrClosed);
}

void HttpSink::sweep(Nanos now) {
  if (stopped_) return;
  const Nanos timeout = c_.options.timeout;
  for (auto& conn : conns_) {
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
  conn.want_write = false;
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
