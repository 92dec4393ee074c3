#include "http/response_parser.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "http/syntax.hpp"

namespace lt::http {

namespace {
// Lines are bounded by the LineBuffer (8 KiB); the whole head is bounded too, so a broken peer
// cannot make a connection buffer without end.
constexpr std::size_t kMaxHead = 64 * 1024;
}  // namespace

void ResponseParser::expect(bool head) {
  state_ = State::StatusLine;
  head_ = head;
  response_ = Response{};
  error_.clear();
  line_.clear();
  header_bytes_ = 0;
}

bool ResponseParser::fail(std::string why) {
  state_ = State::Failed;
  error_ = std::move(why);
  return false;
}

std::size_t ResponseParser::feed(const char* data, std::size_t size, Result& result) {
  std::size_t i = 0;
  while (i < size && state_ != State::Done && state_ != State::Failed) {
    switch (state_) {
      case State::Body:
      case State::ChunkData: {
        const std::size_t take = std::size_t(std::min<std::uint64_t>(remaining_, size - i));
        remaining_ -= take;
        response_.body_bytes += take;
        i += take;
        if (remaining_ == 0) state_ = state_ == State::Body ? State::Done : State::ChunkDataEnd;
        break;
      }
      case State::UntilClose:
        response_.body_bytes += size - i;
        i = size;
        break;
      default: {  // the line-based states
        LineBuffer::Status status;
        i += line_.take(data + i, size - i, status);
        if (status == LineBuffer::Status::TooLong) {
          fail("a line longer than 8 KiB");
          break;
        }
        if (status == LineBuffer::Status::Complete) on_line(line_.line());
      }
    }
  }
  result = state_ == State::Done     ? Result::Done
           : state_ == State::Failed ? Result::Error
                                     : Result::NeedMore;
  return i;
}

ResponseParser::Result ResponseParser::close() {
  if (state_ == State::UntilClose) state_ = State::Done;
  if (state_ == State::Done) return Result::Done;
  if (state_ != State::Failed) fail("the connection closed before the response ended");
  return Result::Error;
}

bool ResponseParser::on_line(const std::string& line) {
  if (state_ == State::StatusLine || state_ == State::Headers || state_ == State::Trailers) {
    header_bytes_ += line.size() + 2;
    if (header_bytes_ > kMaxHead) return fail("a response head longer than 64 KiB");
  }
  switch (state_) {
    case State::StatusLine:
      if (line.empty()) return true;  // stray CRLF after a previous body: tolerated
      return on_status_line(line);
    case State::Headers:
      return line.empty() ? on_headers_end() : on_header(line);
    case State::ChunkSize:
      return on_chunk_size(line);
    case State::ChunkDataEnd:
      if (!line.empty()) return fail("chunk data longer than its size");
      state_ = State::ChunkSize;
      return true;
    case State::Trailers:
      if (line.empty()) state_ = State::Done;  // trailer fields themselves are not used
      return true;
    default:
      return fail("internal: line in a body state");
  }
}

bool ResponseParser::on_status_line(const std::string& line) {
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || line.compare(0, 7, "HTTP/1.") != 0 ||
      (line[7] != '0' && line[7] != '1') || line[8] != ' ')
    return fail("not an HTTP/1.x status line");
  for (int k = 9; k < 12; ++k)
    if (line[k] < '0' || line[k] > '9') return fail("status code is not 3 digits");
  if (line.size() > 12 && line[12] != ' ') return fail("status code is not 3 digits");
  response_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (response_.status < 100) return fail("status code below 100");
  http10_ = line[7] == '0';
  chunked_ = transfer_coded_ = has_length_ = close_token_ = keep_alive_token_ = false;
  length_ = 0;
  state_ = State::Headers;
  return true;
}

bool ResponseParser::on_header(const std::string& line) {
  std::string_view name, value;
  if (const char* why = split_field(line, name, value)) return fail(why);
  if (iequals(name, "content-length")) {
    if (value.empty() || value.size() > 18 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return fail("invalid Content-Length");
    std::uint64_t n = 0;
    for (char c : value) n = n * 10 + std::uint64_t(c - '0');
    if (has_length_ && n != length_) return fail("conflicting Content-Length headers");
    has_length_ = true;
    length_ = n;
  } else if (iequals(name, "transfer-encoding")) {
    // Only a final "chunked" delimits the body; any other coding runs until the close.
    std::string_view last;
    each_element(value, [&](std::string_view item) { last = item; });
    transfer_coded_ = true;
    chunked_ = iequals(last, "chunked");
  } else if (iequals(name, "connection")) {
    each_element(value, [&](std::string_view item) {
      if (iequals(item, "close")) close_token_ = true;
      if (iequals(item, "keep-alive")) keep_alive_token_ = true;
    });
  }
  return true;
}

bool ResponseParser::on_headers_end() {
  if (response_.status < 200) {
    if (response_.status == 101) return fail("101 Switching Protocols: no upgrade was asked for");
    ++response_.interim;  // 100 Continue, 103 Early Hints: the real response follows
    state_ = State::StatusLine;
    return true;
  }
  response_.keep_alive = http10_ ? keep_alive_token_ && !close_token_ : !close_token_;
  if (head_ || response_.status == 204 || response_.status == 304) {
    state_ = State::Done;
  } else if (chunked_) {
    // Transfer-Encoding overrides Content-Length; a server sending both is not trusted with
    // the connection afterwards (request smuggling hygiene).
    if (has_length_) response_.keep_alive = false;
    state_ = State::ChunkSize;
  } else if (has_length_ && !transfer_coded_) {
    remaining_ = length_;
    state_ = length_ == 0 ? State::Done : State::Body;
  } else {
    response_.keep_alive = false;
    state_ = State::UntilClose;
  }
  return true;
}

bool ResponseParser::on_chunk_size(const std::string& line) {
  const auto size = parse_chunk_size(line);
  if (!size) return fail("invalid chunk size");
  const std::uint64_t n = *size;
  remaining_ = n;
  state_ = n == 0 ? State::Trailers : State::ChunkData;
  return true;
}

}  // namespace lt::http
