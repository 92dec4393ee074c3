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

#include "http/syntax.hpp"

namespace lt::http {

struct Request {
  std::string method;
  std::string target;
  bool http10 = false;
  bool head = false;             // a HEAD request: its response carries no body
  bool keep_alive = true;        // the connection may carry the next request
  std::uint64_t body_bytes = 0;  // payload bytes (chunked: without the chunk framing)
};

class RequestParser {
 public:
  enum class Result { NeedMore, Done, Error };

  // Begins the next request, after Done (a new parser expects its first one).
  void next();
  // Consumes bytes of the current request and returns how many: on Done, the rest of the input
  // belongs to the next request; on Error, see error(). Once Done or Error, it consumes nothing
  // until next().
  std::size_t feed(const char* data, std::size_t size, Result& result);

  const Request& request() const { return request_; }
  const std::string& error() const { return error_; }

 private:
  enum class State {
    RequestLine,
    Headers,
    Body,  // Content-Length bytes left in remaining_
    ChunkSize,
    ChunkData,     // remaining_ bytes of this chunk
    ChunkDataEnd,  // the CRLF after a chunk
    Trailers,
    Done,
    Failed,
  };

  // Feeds one complete line (without its line end) to the line-based states.
  bool on_line(const std::string& line);
  bool on_request_line(const std::string& line);
  bool on_field(const std::string& line, bool trailer);
  bool on_headers_end();
  bool on_chunk_size(const std::string& line);
  bool fail(std::string why);

  State state_ = State::RequestLine;
  bool has_length_ = false;
  bool transfer_coded_ = false;  // a Transfer-Encoding header was seen
  bool chunked_ = false;         // ...and its codings so far end in chunked
  bool close_token_ = false, keep_alive_token_ = false;
  int hosts_ = 0;
  std::uint64_t length_ = 0;
  std::uint64_t remaining_ = 0;
  std::size_t head_bytes_ = 0;
  LineBuffer line_{8 * 1024};  // a line split across reads; 8 KiB at most
  Request request_;
  std::string error_;
};

}  // namespace lt::http
