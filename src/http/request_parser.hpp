#pragma once
// Incremental HTTP/1.1 request parser for the built-in HTTP server: bytes are fed as they arrive
// (any split, one byte at a time included), one request at a time, nothing is copied but a
// partial line. It finds where each request ends (Content-Length, chunked, or no body) and
// whether the connection stays open after it; bodies are counted, not kept. Framing that could
// be read two ways (Transfer-Encoding with Content-Length, disagreeing lengths, obs-fold) is an
// error, never a guess: a front end and this server must not split a stream differently.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/message_framing.hpp"

namespace lt::http {

struct Request {
  std::string method;
  std::string target;
  bool http10 = false;
  bool head = false;             // a HEAD request: its response carries no body
  bool keep_alive = true;        // the connection may carry the next request
  std::uint64_t body_bytes = 0;  // payload bytes (chunked: without the chunk framing)
};

class RequestParser : private MessageFraming {
 public:
  using MessageFraming::Result;

  RequestParser();

  // Begins the next request, after Done (a new parser expects its first one).
  void next();
  // Consumes bytes of the current request and returns how many: on Done, the rest of the input
  // belongs to the next request; on Error, see error(). Once Done or Error, it consumes nothing
  // until next().
  using MessageFraming::feed;

  const Request& request() const { return request_; }
  using MessageFraming::error;

 private:
  bool on_start_line(const std::string& line) override;
  bool on_header_field(const std::string& line) override;
  bool on_headers_end() override;
  bool on_trailer_field(const std::string& line) override;  // checked like a header, not used
  std::uint64_t& body_bytes() override { return request_.body_bytes; }
  // Splits a field line and checks its value's characters.
  bool split_checked(const std::string& line, std::string_view& name, std::string_view& value);

  bool has_length_ = false;
  bool transfer_coded_ = false;  // a Transfer-Encoding header was seen
  bool chunked_ = false;         // ...and its codings so far end in chunked
  ConnectionOptions connection_;
  int hosts_ = 0;
  std::uint64_t length_ = 0;
  Request request_;
};

}  // namespace lt::http
