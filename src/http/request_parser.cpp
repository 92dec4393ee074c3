#include "http/request_parser.hpp"

#include <algorithm>
#include <string_view>

namespace lt::http {

namespace {
// The body is bounded (the head is, by MessageFraming): a broken or hostile peer cannot make a
// connection count without end.
constexpr std::uint64_t kMaxBody = 64u << 20;

// Requests: a bare CR is an error (RFC 9112 section 2.2), and the body is bounded.
constexpr MessageFraming::Rules kRules{"a request head longer than 64 KiB", true, kMaxBody,
                                       "a request body larger than 64 MiB"};

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

RequestParser::RequestParser() : MessageFraming(kRules, false) {}

void RequestParser::next() {
  start();
  request_ = Request{};
}

bool RequestParser::on_start_line(const std::string& line) {
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
  has_length_ = transfer_coded_ = chunked_ = false;
  connection_ = {};
  hosts_ = 0;
  length_ = 0;
  return true;
}

bool RequestParser::split_checked(const std::string& line, std::string_view& name,
                                  std::string_view& value) {
  if (const char* why = split_field(line, name, value)) return fail(why);
  if (!field_value(value)) return fail("a header value with control characters");
  return true;
}

bool RequestParser::on_trailer_field(const std::string& line) {
  std::string_view name, value;
  return split_checked(line, name, value);
}

bool RequestParser::on_header_field(const std::string& line) {
  std::string_view name, value;
  if (!split_checked(line, name, value)) return false;
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
    connection_.add(value);
  } else if (iequals(name, "host")) {
    ++hosts_;
  }
  return true;
}

bool RequestParser::on_headers_end() {
  Request& r = request_;
  if (hosts_ > 1) return fail("more than one Host header");
  if (hosts_ == 0 && !r.http10) return fail("an HTTP/1.1 request without a Host header");
  r.keep_alive = connection_.persistent(r.http10);
  if (transfer_coded_) {
    // Both framings, or chunked that an HTTP/1.0 peer may not know: a proxy in front could split
    // the stream elsewhere (request smuggling), so the request is refused (RFC 9112 6.1).
    if (has_length_) return fail("both Transfer-Encoding and Content-Length");
    if (r.http10) return fail("Transfer-Encoding in an HTTP/1.0 request");
    if (!chunked_) return fail("a Transfer-Encoding that does not end in chunked");
    return after_head(Next::Chunked);
  }
  if (has_length_) return after_head(Next::Length, length_);  // fails over 64 MiB
  return after_head(Next::Done);  // a request without either has no body
}

}  // namespace lt::http
