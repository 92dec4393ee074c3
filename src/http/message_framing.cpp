#include "http/message_framing.hpp"

#include <algorithm>
#include <optional>

namespace lt::http {

namespace {
// Lines are bounded by the LineBuffer (8 KiB); the whole head (start line, header fields, and a
// chunked body's trailers) is bounded too, so a broken or hostile peer cannot make a connection
// buffer without end.
constexpr std::size_t kMaxHead = 64 * 1024;
}  // namespace

void ConnectionOptions::add(std::string_view value) {
  each_element(value, [&](std::string_view item) {
    if (iequals(item, "close")) close = true;
    if (iequals(item, "keep-alive")) keep_alive = true;
  });
}

MessageFraming::MessageFraming(const Rules& rules, bool idle)
    : rules_(&rules), state_(idle ? State::Done : State::StartLine) {}

void MessageFraming::start() {
  state_ = State::StartLine;
  error_.clear();
  line_.clear();
  head_bytes_ = 0;
}

bool MessageFraming::fail(std::string why) {
  state_ = State::Failed;
  error_ = std::move(why);
  return false;
}

bool MessageFraming::on_trailer_field(const std::string&) {
  return true;
}

std::size_t MessageFraming::feed(const char* data, std::size_t size, Result& result) {
  std::size_t i = 0;
  while (i < size && state_ != State::Done && state_ != State::Failed) {
    switch (state_) {
      case State::Body:
      case State::ChunkData: {
        const std::size_t take = std::size_t(std::min<std::uint64_t>(remaining_, size - i));
        remaining_ -= take;
        body_bytes() += take;
        i += take;
        if (remaining_ == 0) state_ = state_ == State::Body ? State::Done : State::ChunkDataEnd;
        break;
      }
      case State::UntilClose:
        body_bytes() += size - i;
        i = size;
        break;
      default: {  // the line-based states
        LineBuffer::Status status;
        i += line_.take(data + i, size - i, status);
        if (status == LineBuffer::Status::TooLong)
          fail("a line longer than 8 KiB");
        else if (status == LineBuffer::Status::Complete)
          on_line(line_.line());
      }
    }
  }
  result = state_ == State::Done     ? Result::Done
           : state_ == State::Failed ? Result::Error
                                     : Result::NeedMore;
  return i;
}

MessageFraming::Result MessageFraming::close_connection(const char* why) {
  if (state_ == State::UntilClose) state_ = State::Done;
  if (state_ == State::Done) return Result::Done;
  if (state_ != State::Failed) fail(why);
  return Result::Error;
}

bool MessageFraming::on_line(const std::string& line) {
  if (rules_->bare_cr_is_error && line.find('\r') != std::string::npos)
    return fail("a bare CR in a line");
  if (state_ == State::StartLine || state_ == State::Headers || state_ == State::Trailers) {
    head_bytes_ += line.size() + 2;
    if (head_bytes_ > kMaxHead) return fail(rules_->head_too_long);
  }
  switch (state_) {
    case State::StartLine:
      if (line.empty()) return true;  // an empty line before a message is tolerated (RFC 9112)
      if (!on_start_line(line)) return false;
      state_ = State::Headers;
      return true;
    case State::Headers:
      return line.empty() ? on_headers_end() : on_header_field(line);
    case State::ChunkSize:
      return on_chunk_size(line);
    case State::ChunkDataEnd:
      if (!line.empty()) return fail("chunk data longer than its size");
      state_ = State::ChunkSize;
      return true;
    case State::Trailers:
      if (line.empty()) {
        state_ = State::Done;
        return true;
      }
      return on_trailer_field(line);
    default:
      return fail("internal: line in a body state");
  }
}

bool MessageFraming::after_head(Next next, std::uint64_t length) {
  if (next == Next::Length) {
    if (rules_->max_body != 0 && length > rules_->max_body) return fail(rules_->body_too_large);
    remaining_ = length;
  }
  state_ = next == Next::Head      ? State::StartLine
           : next == Next::Done    ? State::Done
           : next == Next::Length  ? (length == 0 ? State::Done : State::Body)
           : next == Next::Chunked ? State::ChunkSize
                                   : State::UntilClose;
  return true;
}

bool MessageFraming::on_chunk_size(const std::string& line) {
  const std::optional<std::uint64_t> n = parse_chunk_size(line);
  if (!n) return fail("invalid chunk size");
  // The bound counts the chunks so far, which it has kept within max_body.
  if (rules_->max_body != 0 && *n > rules_->max_body - body_bytes())
    return fail(rules_->body_too_large);
  remaining_ = *n;
  state_ = *n == 0 ? State::Trailers : State::ChunkData;
  return true;
}

}  // namespace lt::http
