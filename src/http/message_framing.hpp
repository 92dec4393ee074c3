#pragma once
// The message framing that the incremental HTTP/1.1 parsers share (RFC 9112 sections 2, 6, 7):
// bytes are fed as they arrive (any split, one byte at a time included), lines are collected in
// a bounded LineBuffer, the head is bounded, and a body is counted, not kept, whether it is
// delimited by Content-Length, by chunks (sizes, data, the CRLF after it, trailers) or by the
// connection's close. What the lines mean is the concrete parser's: it reads the start line and
// the header fields, and decides at the end of the head what follows it. One virtual call a line
// (and one a body segment); nothing is allocated but a partial line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/syntax.hpp"

namespace lt::http {

// The Connection header's close and keep-alive options, and whether they leave the connection
// open after the message (RFC 9112 section 9.3).
struct ConnectionOptions {
  bool close = false, keep_alive = false;

  void add(std::string_view value);  // one Connection field's value
  bool persistent(bool http10) const { return http10 ? keep_alive && !close : !close; }
};

class MessageFraming {
 public:
  enum class Result { NeedMore, Done, Error };
  // What a parser's messages may be: the rules in which requests and responses differ.
  struct Rules {
    const char* head_too_long;   // the error for a head over 64 KiB
    bool bare_cr_is_error;       // a CR anywhere in a line but before its LF is an error
    std::uint64_t max_body;      // payload bytes at most (0: no bound)...
    const char* body_too_large;  // ...and the error for more
  };

  // Consumes bytes of the current message and returns how many: on Done, the rest of the input
  // belongs to the next message; on Error, see error(). Once Done or Error, it consumes nothing
  // until the next message is started.
  std::size_t feed(const char* data, std::size_t size, Result& result);

  const std::string& error() const { return error_; }

 protected:
  // What follows a head.
  enum class Next {
    Head,        // another head (after an interim response)
    Done,        // no body: the message ends with its head
    Length,      // Content-Length bytes
    Chunked,     // chunks, then trailers
    UntilClose,  // the body ends when the connection does
  };

  // `rules` must outlive the parser (a static one). An idle parser consumes nothing until
  // start().
  MessageFraming(const Rules& rules, bool idle);
  MessageFraming(const MessageFraming&) = default;
  MessageFraming(MessageFraming&&) = default;
  MessageFraming& operator=(const MessageFraming&) = default;
  MessageFraming& operator=(MessageFraming&&) = default;
  ~MessageFraming() = default;  // not virtual: parsers are never deleted through this base

  // Begins the next message with its start line.
  void start();
  // The head has ended and `next` follows (`length` bytes for Next::Length). Returns true, or
  // fail()'s false for a length over Rules::max_body.
  bool after_head(Next next, std::uint64_t length = 0);
  // The peer closed the connection: completes a body that runs until the close, else fails with
  // `why` (unless it has failed already).
  Result close_connection(const char* why);
  // Records the error; returns false, for `return fail(...)`.
  bool fail(std::string why);

  // The concrete parser's part, each returning false after fail(). The start line (an empty line
  // before it is skipped) is followed by the header fields, then on_headers_end() which must
  // call after_head() or fail().
  virtual bool on_start_line(const std::string& line) = 0;
  virtual bool on_header_field(const std::string& line) = 0;
  virtual bool on_headers_end() = 0;
  virtual bool on_trailer_field(const std::string& line);  // default: accepted, not used
  // The message's payload byte count, which feed() adds to.
  virtual std::uint64_t& body_bytes() = 0;

 private:
  enum class State {
    StartLine,
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

  // Feeds one complete line (without its line end) to the line-based states.
  bool on_line(const std::string& line);
  bool on_chunk_size(const std::string& line);

  const Rules* rules_;
  State state_;
  std::uint64_t remaining_ = 0;
  std::size_t head_bytes_ = 0;
  LineBuffer line_{8 * 1024};  // a line split across reads; 8 KiB at most
  std::string error_;
};

}  // namespace lt::http
