#pragma once
// Incremental HTTP/1.1 response parser for the HTTP sink: bytes are fed as they arrive (any
// split), one response at a time, nothing is copied but a partial line. It finds where each
// response ends (Content-Length, chunked, no body for HEAD/1xx/204/304, or the connection's close)
// and whether the connection may be reused; bodies are counted, not kept.
#include <cstddef>
#include <cstdint>
#include <string>

#include "http/syntax.hpp"

namespace lt::http {

struct Response {
  int status = 0;
  bool keep_alive = true;        // the connection may carry the next request
  std::uint64_t body_bytes = 0;  // payload bytes (chunked: without the chunk framing)
  std::uint32_t interim = 0;     // 1xx responses skipped before this one
};

class ResponseParser {
 public:
  enum class Result { NeedMore, Done, Error };

  // Begins the next response; `head` when the request was HEAD (its response has no body).
  void expect(bool head);
  // Consumes bytes of the current response and returns how many: on Done, the rest of the input
  // belongs to the next response; on Error, see error().
  std::size_t feed(const char* data, std::size_t size, Result& result);
  // The peer closed the connection: completes a body that runs until the close, else Error.
  Result close();

  const Response& response() const { return response_; }
  const std::string& error() const { return error_; }

 private:
  enum class State {
    StatusLine,
    Headers,
    Body,        // Content-Length bytes left in remaining_
    UntilClose,  // no length: the body ends when the connection does
    ChunkSize,
    ChunkData,     // remaining_ bytes of this chunk
    ChunkDataEnd,  // the CRLF after a chunk
    Trailers,
    Done,
    Failed,
  };

  // Feeds one complete line (without CRLF) to the line-based states.
  bool on_line(const std::string& line);
  bool on_status_line(const std::string& line);
  bool on_header(const std::string& line);
  bool on_headers_end();
  bool on_chunk_size(const std::string& line);
  bool fail(std::string why);

  State state_ = State::Done;
  bool head_ = false;
  bool http10_ = false;
  bool chunked_ = false;
  bool transfer_coded_ = false;  // a Transfer-Encoding header was seen
  bool has_length_ = false;
  bool close_token_ = false, keep_alive_token_ = false;
  std::uint64_t length_ = 0;
  std::uint64_t remaining_ = 0;
  std::size_t header_bytes_ = 0;
  LineBuffer line_{8 * 1024};  // a line split across reads; longer is not HTTP a server meant
  Response response_;
  std::string error_;
};

}  // namespace lt::http
