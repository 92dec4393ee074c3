#include "http/response_parser.hpp"

#include <algorithm>
#include <string_view>

#include "http/syntax.hpp"

namespace lt::http {

namespace {
// Responses: lines and the head are bounded (a broken peer cannot make a connection buffer
// without end), the body is not: it is counted, not kept.
constexpr MessageFraming::Rules kRules{"a response head longer than 64 KiB", false, 0, nullptr};
}  // namespace

ResponseParser::ResponseParser() : MessageFraming(kRules, true) {}

void ResponseParser::expect(bool head) {
  start();
  head_ = head;
  response_ = Response{};
}

ResponseParser::Result ResponseParser::close() {
  return close_connection("the connection closed before the response ended");
}

bool ResponseParser::on_start_line(const std::string& line) {
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
  chunked_ = transfer_coded_ = has_length_ = false;
  connection_ = {};
  length_ = 0;
  return true;
}

bool ResponseParser::on_header_field(const std::string& line) {
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
    connection_.add(value);
  }
  return true;
}

bool ResponseParser::on_headers_end() {
  if (response_.status < 200) {
    if (response_.status == 101) return fail("101 Switching Protocols: no upgrade was asked for");
    ++response_.interim;  // 100 Continue, 103 Early Hints: the real response follows
    return after_head(Next::Head);
  }
  response_.keep_alive = connection_.persistent(http10_);
  if (head_ || response_.status == 204 || response_.status == 304) return after_head(Next::Done);
  if (chunked_) {
    // Transfer-Encoding overrides Content-Length; a server sending both is not trusted with
    // the connection afterwards (request smuggling hygiene).
    if (has_length_) response_.keep_alive = false;
    return after_head(Next::Chunked);
  }
  if (has_length_ && !transfer_coded_) return after_head(Next::Length, length_);
  response_.keep_alive = false;
  return after_head(Next::UntilClose);
}

}  // namespace lt::http
