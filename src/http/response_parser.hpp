#pragma once
// Incremental HTTP/1.1 response parser for the HTTP sink: bytes are fed as they arrive (any
// split), one response at a time, nothing is copied but a partial line. It finds where each
// response ends (Content-Length, chunked, no body for HEAD/1xx/204/304, or the connection's close)
// and whether the connection may be reused; bodies are counted, not kept.
#include <cstddef>
#include <cstdint>
#include <string>

#include "http/message_framing.hpp"

namespace lt::http {

struct Response {
  int status = 0;
  bool keep_alive = true;        // the connection may carry the next request
  std::uint64_t body_bytes = 0;  // payload bytes (chunked: without the chunk framing)
  std::uint32_t interim = 0;     // 1xx responses skipped before this one
};

class ResponseParser : private MessageFraming {
 public:
  using MessageFraming::Result;

  ResponseParser();

  // Begins the next response; `head` when the request was HEAD (its response has no body).
  void expect(bool head);
  // Consumes bytes of the current response and returns how many: on Done, the rest of the input
  // belongs to the next response; on Error, see error().
  using MessageFraming::feed;
  // The peer closed the connection: completes a body that runs until the close, else Error.
  Result close();

  const Response& response() const { return response_; }
  using MessageFraming::error;

 private:
  bool on_start_line(const std::string& line) override;
  bool on_header_field(const std::string& line) override;
  bool on_headers_end() override;
  std::uint64_t& body_bytes() override { return response_.body_bytes; }

  bool head_ = false;
  bool http10_ = false;
  bool chunked_ = false;
  bool transfer_coded_ = false;  // a Transfer-Encoding header was seen
  bool has_length_ = false;
  ConnectionOptions connection_;
  std::uint64_t length_ = 0;
  Response response_;
};

}  // namespace lt::http
