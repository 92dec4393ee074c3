#include "sinks/http_sink.hpp"

#include <fmt/format.h>

#include "http/request.hpp"
#include "http/response_parser.hpp"
#include "sinks/ring.hpp"
#include "sinks/stream_client.hpp"

namespace lt {
namespace {

// Unwritten request bytes a connection may hold before it says Busy (beyond one request), so a
// server that stops reading big bodies pushes requests back into the counted backlog instead
// of into memory.
constexpr std::size_t kMaxBuffered = 256 * 1024;

// A request the connection has taken, until its response. `end` is the stream offset just past
// its last byte, so "wholly written" is a comparison with the bytes written so far.
struct Pending {
  Nanos intended;
  Nanos sent;
  std::uint64_t end;
};

// What HTTP keeps per connection, beside the StreamConn of the same index.
struct HttpState {
  Ring<Pending> pending;        // at most --pipeline
  std::uint32_t stamped = 0;    // pending requests whose send time is set
  std::uint32_t recorded = 0;   // pending requests counted as sent (wholly written)
  std::uint64_t responses = 0;  // on this connection: a close before any is an error
  bool owe_ready = false;       // said Busy: the worker is told once a slot frees
  http::ResponseParser parser;
};

class HttpSink final : public StreamClient {
 public:
  explicit HttpSink(SinkContext& c)
      : StreamClient(c, c.device_ids.size(),
                     std::min(c.options.timeout, c.options.connect_timeout) / 8),
        request_(http::build_request(c.options)),
        head_(c.options.http.method == "HEAD"),
        http_(c.device_ids.size()) {}

  void open(std::uint32_t local, Nanos now) override { open_conn(conns_[local], now); }

  Offer offer(std::uint32_t local, std::uint64_t, Nanos intended, Nanos) override {
    StreamConn& conn = conns_[local];
    HttpState& h = http_[local];
    if (!conn.ready) return Offer::Down;
    if (h.pending.size() >= c_.options.http.pipeline ||
        (!h.pending.empty() && conn.out.size() - conn.out_at >= kMaxBuffered)) {
      h.owe_ready = true;
      return Offer::Busy;
    }
    conn.out += request_;
    h.pending.push({intended, -1, conn.stream_end()});
    mark_dirty(conn);
    return Offer::Taken;
  }

  bool busy() const override {
    for (std::size_t i = 0; i < conns_.size(); ++i)
      if (conns_[i].ready && !http_[i].pending.empty()) return true;
    return false;
  }

  void stop(Nanos now) override { stop_all(now); }

 private:
  void on_open(StreamConn& conn, Nanos now) override {
    http_[conn.index].parser.expect(head_);
    mark_ready(conn, now);
  }

  void on_written(StreamConn& conn, Nanos began) override {
    HttpState& h = http_[conn.index];
    // Requests not yet begun took this write's start as their send time.
    for (; h.stamped < h.pending.size(); ++h.stamped) h.pending[h.stamped].sent = began;
    for (; h.recorded < h.pending.size() && h.pending[h.recorded].end <= conn.written;
         ++h.recorded) {
      const Pending& p = h.pending[h.recorded];
      c_.recorder.sent(p.intended, p.sent, request_.size());
    }
  }

  bool on_data(StreamConn& conn, const char* data, std::size_t size, Nanos now) override;
  void complete(StreamConn& conn, Nanos now);

  void on_peer_closed(StreamConn& conn, Nanos now) override {
    HttpState& h = http_[conn.index];
    // A body that runs until the close ends here.
    if (!h.pending.empty() && h.parser.close() == http::ResponseParser::Result::Done)
      complete(conn, now);
    // Closing an idle keep-alive connection is the server's right. With requests unanswered,
    // or before answering anything (a server out of connections accepts and closes), it is an
    // error and the reconnect backs off.
    const bool idle_close = h.pending.empty() && h.responses > 0;
    close(conn, now, idle_close ? Counter::kCount : Counter::ErrClosed);
  }

  void on_close(StreamConn& conn, Nanos, bool) override {
    HttpState& h = http_[conn.index];
    // Requests wholly written are lost (unanswered); the rest never left: missed.
    c_.recorder.count(Counter::Lost, h.recorded);
    c_.recorder.count(Counter::Missed, h.pending.size() - h.recorded);
    h.pending.clear();
    h.stamped = h.recorded = 0;
    h.responses = 0;
    h.owe_ready = false;  // the reconnect's ready() tells the worker
  }

  void on_sweep(StreamConn& conn, Nanos now) override {
    HttpState& h = http_[conn.index];
    if (h.pending.empty()) return;
    const Pending& oldest = h.pending[0];
    // A request still in our buffer (the server stopped reading) ages from its intended time.
    if (now - (oldest.sent >= 0 ? oldest.sent : oldest.intended) >= c_.options.timeout)
      close(conn, now, Counter::ErrTimeout);
  }

  const std::string request_;
  const bool head_;
  std::vector<HttpState> http_;
};

// Feeds the bytes to the parser, completing responses in order. False once the connection
// was closed (a malformed response, or the server's "Connection: close").
bool HttpSink::on_data(StreamConn& conn, const char* data, std::size_t size, Nanos now) {
  HttpState& h = http_[conn.index];
  bool freed = false;
  std::size_t off = 0;
  while (off < size) {
    if (h.pending.empty()) {  // bytes no request asked for
      close(conn, now, Counter::ErrMalformed);
      return false;
    }
    http::ResponseParser::Result result;
    off += h.parser.feed(data + off, size - off, result);
    if (result == http::ResponseParser::Result::Error) {
      if (c_.options.verbose)
        fmt::print(stderr, "load-tester: malformed response from {}:{}: {}\n", c_.options.hostname,
                   c_.options.port, h.parser.error());
      close(conn, now, Counter::ErrMalformed);
      return false;
    }
    if (result != http::ResponseParser::Result::Done) break;
    const bool keep_alive = h.parser.response().keep_alive;
    complete(conn, now);
    freed = true;
    if (!keep_alive) {
      // Requests pipelined behind the last response will not be answered: sent and lost, so
      // the close is an error; with none behind it, the server's right.
      close(conn, now, h.pending.empty() ? Counter::kCount : Counter::ErrClosed);
      return false;
    }
    h.parser.expect(head_);
  }
  if (freed && h.owe_ready) {
    h.owe_ready = false;
    c_.events.ready(conn.index, now);
  }
  return true;
}

void HttpSink::complete(StreamConn& conn, Nanos now) {
  HttpState& h = http_[conn.index];
  Pending& p = h.pending[0];
  // A server may answer before it has read the whole request (an early 413, say): the request
  // still happened, counted as sent when it began.
  if (h.recorded == 0) {
    if (p.sent < 0) p.sent = now;
    c_.recorder.sent(p.intended, p.sent, request_.size());
  } else {
    --h.recorded;
  }
  if (h.stamped > 0) --h.stamped;
  c_.recorder.completed(p.intended, p.sent, now);
  ++h.responses;
  const int status = h.parser.response().status;
  if (status >= 200 && status < 600)
    c_.recorder.count(Counter(std::size_t(Counter::Status2xx) + std::size_t(status / 100 - 2)));
  h.pending.pop();
}

}  // namespace

std::unique_ptr<Sink> make_http_sink(SinkContext& context) {
  return std::make_unique<HttpSink>(context);
}

}  // namespace lt
