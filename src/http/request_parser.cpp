#include "http/request_parser.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

namespace lt::http {

namespace {
// The head (request line, header fields, and a chunked body's trailers) is bounded, and so is
// the body: a broken or hostile peer cannot make a connection buffer or count without end.
constexpr std::size_t kMaxHead = 64 * 1024;
constexpr std::uint64_t kMaxBody = 64u << 20;

bool digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// field-value: visible characters, obs-text, SP and HTAB; no other control character.
bool field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

// request-target: visible ASCII only (a space would shift the version; RFC 9112 section 3.2).
bool target_chars(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}
}  // namespace

void RequestParser::next() {
  state_ = State::RequestLine;
  request_ = Request{};
  error_.clear();
  line_.clear();
  head_bytes_ = 0;
}

bool RequestParser::fail(std::string why) {
  state_ = State::Failed;
  error_ = std::move(why);
  return false;
}

std::size_t RequestParser::feed(const char* data, std::size_t size, Result& result) {
  std::size_t i = 0;
  while (i < size && state_ != State::Done && state_ != State::Failed) {
    if (state_ == State::Body || state_ == State::ChunkData) {
      const std::size_t take = std::size_t(std::min<std::uint64_t>(remaining_, size - i));
      remaining_ -= take;
      request_.body_bytes += take;
      i += take;
      if (remaining_ == 0) state_ = state_ == State::Body ? State::Done : State::ChunkDataEnd;
      continue;
    }
    LineBuffer::Status status;
    i += line_.take(data + i, size - i, status);
    if (status == LineBuffer::Status::TooLong)
      fail("a line longer than 8 KiB");
    else if (status == LineBuffer::Status::Complete)
      on_line(line_.line());
  }
  result = state_ == State::Done     ? Result::Done
           : state_ == State::Failed ? Result::Error
                                     : Result::NeedMore;
  return i;
}

bool RequestParser::on_line(const std::string& line) {
  if (line.find('\r') != std::string::npos) return fail("a bare CR in a line");
  if (state_ == State::RequestLine || state_ == State::Headers || state_ == State::Trailers) {
    head_bytes_ += line.size() + 2;
    if (head_bytes_ > kMaxHead) return fail("a request head longer than 64 KiB");
  }
  switch (state_) {
    case State::RequestLine:
      if (line.empty()) return true;  // an empty line before a request is tolerated (RFC 9112)
      return on_request_line(line);
    case State::Headers:
      return line.empty() ? on_headers_end() : on_field(line, false);
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
      return on_field(line, true);  // checked like a header, then not used
    default:
      return fail("internal: line in a body state");
  }
}

bool RequestParser::on_request_line(const std::string& line) {
  // method SP request-target SP HTTP-version, single spaces (RFC 9112 section 3)
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) return fail("a request line that is not METHOD TARGET VERSION");
  const std::string_view text(line);
  const std::string_view method = text.substr(0, sp1);
  const std::string_view target = text.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = text.substr(sp2 + 1);
  if (!is_token(method)) return fail("a method that is not a token");
  if (!target_chars(target)) return fail("a request target with spaces or control characters");
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return fail("an HTTP version other than HTTP/1.0 or HTTP/1.1");
  request_.method = method;
  request_.target = target;
  request_.http10 = version == "HTTP/1.0";
  request_.head = method == "HEAD";  // methods are case-sensitive
  has_length_ = transfer_coded_ = chunked_ = close_token_ = keep_alive_token_ = false;
  hosts_ = 0;
  length_ = 0;
  state_ = State::Headers;
  return true;
}

bool RequestParser::on_field(const std::string& line, bool trailer) {
  std::string_view name, value;
  if (const char* why = split_field(line, name, value)) return fail(why);
  if (!field_value(value)) return fail("a header value with control characters");
  if (trailer) return true;
  if (iequals(name, "content-length")) {
    // A list of equal values ("5, 5") is one length; anything else is a conflict.
    enum class Verdict { Ok, Invalid, Conflict } verdict = Verdict::Ok;
    bool any = false;
    each_element(value, [&](std::string_view item) {
      if (verdict != Verdict::Ok) return;
      any = true;
      if (!digits(item) || item.size() > 18) {
        verdict = Verdict::Invalid;
        return;
      }
      std::uint64_t n = 0;
      for (char c : item) n = n * 10 + std::uint64_t(c - '0');
      if (has_length_ && n != length_) verdict = Verdict::Conflict;
      has_length_ = true;
      length_ = n;
    });
    if (verdict == Verdict::Conflict) return fail("conflicting Content-Length headers");
    if (verdict == Verdict::Invalid || !any) return fail("invalid Content-Length");
  } else if (iequals(name, "transfer-encoding")) {
    // Only chunked delimits a request body, and it must be the last coding, applied once.
    transfer_coded_ = true;
    bool after_chunked = false;
    each_element(value, [&](std::string_view item) {
      if (chunked_) after_chunked = true;
      chunked_ = iequals(item, "chunked");
    });
    if (after_chunked) return fail("a transfer coding after chunked");
  } else if (iequals(name, "connection")) {
    each_element(value, [&](std::string_view item) {
      if (iequals(item, "close")) close_token_ = true;
      if (iequals(item, "keep-alive")) keep_alive_token_ = true;
    });
  } else if (iequals(name, "host")) {
    ++hosts_;
  }
  return true;
}

bool RequestParser::on_headers_end() {
  Request& r = request_;
  if (hosts_ > 1) return fail("more than one Host header");
  if (hosts_ == 0 && !r.http10) return fail("an HTTP/1.1 request without a Host header");
  r.keep_alive = r.http10 ? keep_alive_token_ && !close_token_ : !close_token_;
  if (transfer_coded_) {
    // Both framings, or chunked that an HTTP/1.0 peer may not know: a proxy in front could split
    // the stream elsewhere (request smuggling), so the request is refused (RFC 9112 6.1).
    if (has_length_) return fail("both Transfer-Encoding and Content-Length");
    if (r.http10) return fail("Transfer-Encoding in an HTTP/1.0 request");
    if (!chunked_) return fail("a Transfer-Encoding that does not end in chunked");
    state_ = State::ChunkSize;
  } else if (has_length_) {
    if (length_ > kMaxBody) return fail("a request body larger than 64 MiB");
    remaining_ = length_;
    state_ = length_ == 0 ? State::Done : State::Body;
  } else {
    state_ = State::Done;  // a request without either has no body
  }
  return true;
}

bool RequestParser::on_chunk_size(const std::string& line) {
  const std::optional<std::uint64_t> n = parse_chunk_size(line);
  if (!n) return fail("invalid chunk size");
  if (request_.body_bytes + *n > kMaxBody) return fail("a request body larger than 64 MiB");
  remaining_ = *n;
  state_ = *n == 0 ? State::Trailers : State::ChunkData;
  return true;
}

}  // namespace lt::http
