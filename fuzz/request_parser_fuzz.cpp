// Fuzzes lt::http::RequestParser (and the MessageFraming under it), which reads what peers send
// the built-in server (serve --sink http), and the server's HTTP protocol around it. Any split of
// a stream of requests must yield the requests (method, target, version, keep-alive, body bytes,
// bytes of the stream each took) and the verdict of reading it whole. Each request is consistent
// in itself (a token method, a visible target, HEAD flagged, a body within 64 MiB and within the
// bytes it took); a parser that is Done or failed consumes nothing more. The server, fed the same
// pieces, must answer alike whatever the split: one 200 per request up to the first that closes
// the connection, else a 400 after the last one when the stream turns out malformed.
// Input: the split (harness.hpp), then the stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"
#include "http/request_parser.hpp"
#include "serve/stream_protocol.hpp"

namespace {

using lt::http::RequestParser;
using R = RequestParser::Result;

constexpr std::uint64_t kMaxBody = 64u << 20;  // the parser's bound

struct Seen {
  std::string method, target;
  bool http10, head, keep_alive;
  std::uint64_t body_bytes;
  std::size_t bytes;  // of the stream, from the previous request's end to this one's
  bool operator==(const Seen&) const = default;
};

struct Outcome {
  std::vector<Seen> requests;
  std::string error;     // empty unless the parser refused the stream
  std::size_t left = 0;  // bytes taken by the request unfinished (or refused) at the end
  bool operator==(const Outcome&) const = default;
};

class Reading {
 public:
  void feed(const char* p, std::size_t n) {
    std::size_t at = 0;
    while (at < n && out_.error.empty()) {
      R r;
      const std::size_t used = parser_.feed(p + at, n - at, r);
      LT_FUZZ_CHECK(used <= n - at);
      at += used;
      bytes_ += used;
      if (r == R::Done) {
        LT_FUZZ_CHECK(used > 0);
        R again;
        LT_FUZZ_CHECK(parser_.feed(p + at, n - at, again) == 0 && again == R::Done);
        done();
      } else if (r == R::Error) {
        out_.error = parser_.error();
        LT_FUZZ_CHECK(!out_.error.empty());
      } else {
        LT_FUZZ_CHECK(at == n);  // a request not yet whole consumes all it is given
      }
    }
    if (!out_.error.empty() && at < n) {  // a failed parser takes nothing more, and stays failed
      R again;
      LT_FUZZ_CHECK(parser_.feed(p + at, n - at, again) == 0 && again == R::Error);
      LT_FUZZ_CHECK(parser_.error() == out_.error);
    }
  }

  Outcome finish() {
    out_.left = bytes_;
    return out_;
  }

 private:
  void done() {
    const lt::http::Request& r = parser_.request();
    LT_FUZZ_CHECK(lt::http::is_token(r.method));
    LT_FUZZ_CHECK(!r.target.empty());
    for (char c : r.target) LT_FUZZ_CHECK(c > 0x20 && c < 0x7f);
    LT_FUZZ_CHECK(r.head == (r.method == "HEAD"));
    LT_FUZZ_CHECK(r.body_bytes <= kMaxBody);
    // At least the request line and the empty line ending the head, each ended by LF, and the
    // body (chunked: its payload, without the framing).
    const std::size_t line = r.method.size() + 1 + r.target.size() + 1 + 8 + 1;
    LT_FUZZ_CHECK(bytes_ >= line + 1 + r.body_bytes);
    out_.requests.push_back(
        {r.method, r.target, r.http10, r.head, r.keep_alive, r.body_bytes, bytes_});
    bytes_ = 0;
    parser_.next();
  }

  RequestParser parser_;
  std::size_t bytes_ = 0;
  Outcome out_;
};

Outcome read(const lt::fuzz::Split& in, bool whole) {
  Reading reading;
  lt::fuzz::for_each_piece(in.stream, whole ? std::vector<std::size_t>{} : in.cuts,
                           [&](const char* p, std::size_t n) { reading.feed(p, n); });
  return reading.finish();
}

// What the server sends back and counts, and whether it still reads the connection.
struct Served {
  std::string out;
  std::uint64_t messages = 0, malformed = 0;
  bool open = true;
  bool operator==(const Served&) const = default;
};

Served serve(const lt::fuzz::Split& in, bool whole) {
  lt::EchoQueue queue;
  lt::ServerStats stats;
  lt::Faults faults{lt::ServeFaults{}};
  const auto protocol = lt::make_http_protocol();
  Served s;
  lt::fuzz::for_each_piece(
      in.stream, whole ? std::vector<std::size_t>{} : in.cuts, [&](const char* p, std::size_t n) {
        if (!s.open) return;  // the server passes nothing more
        lt::Replies replies(queue, stats, faults, 0, false);
        s.open = protocol->take(reinterpret_cast<const unsigned char*>(p), n, replies);
      });
  queue.release_all();
  s.out.assign(reinterpret_cast<const char*>(queue.sendable()), queue.sendable_size());
  s.messages = stats.messages;
  s.malformed = stats.malformed;
  return s;
}

std::size_t occurrences(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != text.npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const lt::fuzz::Split in = lt::fuzz::split_input(data, size);
  const Outcome whole = read(in, true);
  LT_FUZZ_CHECK(read(in, false) == whole);
  std::size_t taken = whole.left;
  for (const Seen& r : whole.requests) taken += r.bytes;
  LT_FUZZ_CHECK(taken <= in.stream.size());
  LT_FUZZ_CHECK(!whole.error.empty() || taken == in.stream.size());

  const Served served = serve(in, true);
  LT_FUZZ_CHECK(serve(in, false) == served);
  // The requests the server answers: up to the first that closes the connection; a stream that
  // fails before any does gets one 400 more.
  std::size_t answered = 0;
  bool closed = false;
  for (const Seen& r : whole.requests) {
    ++answered;
    if (!r.keep_alive) {
      closed = true;
      break;
    }
  }
  const bool refused = !closed && !whole.error.empty();
  LT_FUZZ_CHECK(served.messages == answered && served.malformed == (refused ? 1u : 0u));
  LT_FUZZ_CHECK(served.open == (!closed && !refused));
  LT_FUZZ_CHECK(occurrences(served.out, "HTTP/1.1 200 OK\r\n") == answered);
  LT_FUZZ_CHECK(occurrences(served.out, "HTTP/1.1 400 Bad Request\r\n") == (refused ? 1u : 0u));
  if (refused) LT_FUZZ_CHECK(served.out.find(whole.error) != std::string::npos);
  return 0;
}
