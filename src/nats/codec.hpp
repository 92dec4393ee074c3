#pragma once
// The NATS client protocol as the NATS sink needs it: encoders that append to a connection's
// output buffer, and an incremental reader for what a server sends (INFO, MSG, HMSG, PING, PONG,
// +OK, -ERR). Our own codec rather than libnats: the sink coalesces many publishes into one write
// per connection and stamps send times into buffered bytes, and 10,000 connections cost one small
// struct each, where libnats gives each connection its own threads and queues. Everything that
// reads server bytes is bounded and fuzzed: no input may crash it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lt::nats {

// What the server announces in INFO, as far as the sink uses it.
struct Info {
  std::string server_id;
  std::string version;
  std::int64_t max_payload = 1 << 20;  // the protocol's default when the server omits it
  bool headers = false;                // HPUB/HMSG understood
  bool auth_required = false;
  bool tls_required = false;
  bool tls_available = false;
  int proto = 0;
};
// Parses the JSON after "INFO "; nullopt with `why` when it is not a JSON object or a field the
// sink reads has the wrong type. Unknown fields are ignored.
std::optional<Info> parse_info(std::string_view json, std::string& why);

struct ConnectParams {
  std::string name;  // shown by the server's /connz
  std::string user, pass, token;
  bool tls_required = false;
  bool headers = true;        // we understand HMSG (no-responders replies are HMSG 503)
  bool no_responders = true;  // a request nobody listens for is answered at once, not dropped
  bool echo = true;           // our own subscriptions see our own publishes (e2e on one conn)
};
// "CONNECT {...}\r\n" with verbose and pedantic off, protocol 1; empty credentials are left out.
void encode_connect(std::string& out, const ConnectParams& p);

// The bytes of a publish around its payload. With a fixed reply subject (or none) the head is
// the same for every message of a device and is built once:
//   PUB <subject> [reply] <size>\r\n                                      (no headers)
//   HPUB <subject> [reply] <header size> <header size + size>\r\n<header block>   (headers)
// and the message ends with "\r\n" after the payload.
std::string publish_head(std::string_view subject, std::string_view reply,
                         std::string_view header_block, std::size_t payload_size);
// Appends the head of a request whose reply subject is `inbox_prefix` followed by `token`
// (decimal), e.g. "_INBOX.abc.7." + "42", without building a string per message.
void append_request_head(std::string& out, std::string_view subject, std::string_view inbox_prefix,
                         std::uint64_t token, std::string_view header_block,
                         std::size_t payload_size);
// "NATS/1.0\r\nName: value\r\n...\r\n" from "Name: value" lines (already checked by the CLI).
std::string header_block(const std::vector<std::string>& headers);

void encode_sub(std::string& out, std::string_view subject, std::string_view queue,
                std::uint64_t sid);
void encode_ping(std::string& out);
void encode_pong(std::string& out);

// A publish subject: 1..max bytes, no whitespace or control bytes, no empty token ("a..b", a
// leading or trailing '.'); wildcards '*' and '>' only when `wildcards`. Returns why not, or "".
std::string check_subject(std::string_view subject, bool wildcards);

enum class Op : std::uint8_t { Info, Msg, Ping, Pong, Ok, Err };

// One server operation; the views point into the reader's input or its own buffer and are valid
// until the next feed(). For MSG and HMSG (both Op::Msg): subject, sid, reply (empty when none),
// headers (the raw header block, empty for MSG) and payload. For INFO and -ERR: text is the JSON
// or the error message without its quotes.
struct Message {
  Op op;
  std::string_view subject, sid, reply, headers, payload, text;
};

// Splits a byte stream into operations. Only an operation split across reads is copied.
class Reader {
 public:
  // `max_payload` bounds a MSG/HMSG's bytes; control lines are bounded by kMaxControlLine.
  explicit Reader(std::size_t max_payload = 64u << 20) : max_payload_(max_payload) {}
  static constexpr std::size_t kMaxControlLine = 64 * 1024;
  // Calls on_message(const Message&) for each complete operation in order; it returns false to
  // stop (the connection is being closed). Returns false when the stream is not NATS (unknown
  // operation, bad sizes, a missing CRLF after a payload, a line over the bound): see error().
  template <typename Fn>
  bool feed(const char* data, std::size_t size, Fn&& on_message);
  const std::string& error() const { return error_; }
  void reset() {
    partial_.clear();
    error_.clear();
  }

 private:
  // Parses one operation at the front of [p, p + size): its total length (control line, and
  // for MSG/HMSG the payload and its CRLF) with `m` filled; 0 when more bytes are needed;
  // SIZE_MAX when malformed (error_ set).
  std::size_t parse(const char* p, std::size_t size, Message& m);
  std::size_t max_payload_;
  std::string partial_;
  std::string error_;
};

// The status of an HMSG header block: 503 for "NATS/1.0 503" (no responders), 0 when the
// block carries no status.
int header_status(std::string_view headers);

}  // namespace lt::nats

#include "nats/reader_impl.hpp"  // the template member, kept out of this overview
