#include "sinks/http_sink.hpp"

#include <fmt/format.h>

#include "http/request.hpp"
#include "http/response_parser.hpp"
#include "sinks/outbox.hpp"
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
  Nanos queued;  // when it entered our buffer
};

// What HTTP keeps per connection, beside the StreamConn of the same index.
struct HttpState {
  Outbox<Pending> box;          // at most --pipeline
  std::uint64_t responses = 0;  // on this connection: a close before any is an error
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

  Offer offer(std::uint32_t local, std::uint64_t, Nanos intended, Nanos now) override {
    StreamConn& conn = conns_[local];
    HttpState& h = http_[local];
    if (!conn.ready) return Offer::Down;
    if (h.box.pending.size() >= c_.options.http.pipeline ||
        (!h.box.pending.empty() && conn.out.size() - conn.out_at >= kMaxBuffered)) {
      h.box.owe_ready = true;
      return Offer::Busy;
    }
    conn.out += request_;
    h.box.pending.push({intended, -1, conn.stream_end(), now});
    mark_dirty(conn);
    return Offer::Taken;
  }

  bool busy() const override { return devices_pending(http_); }

  void stop(Nanos now) override { stop_all(now); }

 private:
  void on_open(StreamConn& conn, Nanos now) override {
    http_[conn.index].parser.expect(head_);
    mark_ready(conn, now);
  }

  void on_written(StreamConn& conn, Nanos began) override {
    HttpState& h = http_[conn.index];
    // Requests not yet begun took this write's start as their send time.
    h.box.stamp(began, [](const Pending&) {});
    h.box.record(conn.written,
                 [&](const Pending& p) { c_.recorder.sent(p.intended, p.sent, request_.size()); });
  }

  bool on_data(StreamConn& conn, const char* data, std::size_t size, Nanos now) override;
  void complete(StreamConn& conn, Nanos now);

  void on_peer_closed(StreamConn& conn, Nanos now) override {
    HttpState& h = http_[conn.index];
    // A body that runs until the close ends here.
    if (!h.box.pending.empty() && h.parser.close() == http::ResponseParser::Result::Done)
      complete(conn, now);
    // Closing an idle keep-alive connection is the server's right. With requests unanswered,
    // or before answering anything (a server out of connections accepts and closes), it is an
    // error and the reconnect backs off.
    const bool idle_close = h.box.pending.empty() && h.responses > 0;
    close(conn, now, idle_close ? Counter::kCount : Counter::ErrClosed);
  }

  void on_close(StreamConn& conn, Nanos, bool) override {
    HttpState& h = http_[conn.index];
    // Requests wholly written are lost (unanswered); the rest never left: missed.
    c_.recorder.count(Counter::Lost, h.box.recorded);
    c_.recorder.count(Counter::Missed, h.box.unwritten());
    h.box.clear();
    h.responses = 0;
  }

  void on_sweep(StreamConn& conn, Nanos now) override {
    HttpState& h = http_[conn.index];
    if (h.box.pending.empty()) return;
    const Pending& oldest = h.box.pending[0];
    // A request still in our buffer (the server stopped reading) ages from when it entered it,
    // not from its intended time: a backlog request offered after a reconnect may be due long
    // ago, and the next flush writes it; only the server can be late here.
    if (now - (oldest.sent >= 0 ? oldest.sent : oldest.queued) >= c_.options.timeout)
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
    if (h.box.pending.empty()) {  // bytes no request asked for
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
      close(conn, now, h.box.pending.empty() ? Counter::kCount : Counter::ErrClosed);
      return false;
    }
    h.parser.expect(head_);
  }
  if (freed) tell_ready(conn, h.box.owe_ready, now);
  return true;
}

void HttpSink::complete(StreamConn& conn, Nanos now) {
  HttpState& h = http_[conn.index];
  Pending& p = h.box.pending[0];
  // A server may answer before it has read the whole request (an early 413, say): the request
  // still happened, counted as sent when it began.
  if (h.box.recorded == 0) {
    if (p.sent < 0) p.sent = now;
    c_.recorder.sent(p.intended, p.sent, request_.size());
  }
  c_.recorder.completed(p.intended, p.sent, now);
  ++h.responses;
  const int status = h.parser.response().status;
  if (status >= 200 && status < 600)
    c_.recorder.count(Counter(std::size_t(Counter::Status2xx) + std::size_t(status / 100 - 2)));
  h.box.pop();
}

}  // namespace

std::unique_ptr<Sink> make_http_sink(SinkContext& context) {
  return std::make_unique<HttpSink>(context);
}

}  // namespace lt
