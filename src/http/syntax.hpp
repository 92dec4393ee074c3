#pragma once
// HTTP/1.1 syntax pieces shared by the incremental parsers (RFC 9110, RFC 9112): case-insensitive
// names, optional whitespace, tokens, comma lists, and lines collected across reads.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace lt::http {

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// Strips optional whitespace (SP and HTAB) from both ends.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 token characters: what methods and header names are made of.
inline bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

inline bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), token_char);
}

// Calls fn on each comma-separated element of a header value, trimmed, empty ones skipped.
template <typename Fn>
void each_element(std::string_view value, Fn fn) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    const std::string_view item = trim_ows(value.substr(0, comma));
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// Splits a field line ("name: value") into its name and its value without the optional
// whitespace around it. Returns the reason when the line is not one; the value's characters are
// the caller's to check.
inline const char* split_field(std::string_view line, std::string_view& name,
                               std::string_view& value) {
  if (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
    return "obsolete line folding in a header";
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return "a header line without a name";
  name = line.substr(0, colon);
  if (!is_token(name)) return "a header name with characters outside a token";
  value = trim_ows(line.substr(colon + 1));
  return nullptr;
}

// The size on a chunk-size line: hex digits, then optional whitespace and extensions, which are
// ignored. nullopt when it is not one, or has more than 15 digits (no size near 2^64).
inline std::optional<std::uint64_t> parse_chunk_size(std::string_view line) {
  std::string_view s = line.substr(0, line.find(';'));
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : s) {
    const char lower = char(c | 0x20);
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (lower >= 'a' && lower <= 'f')
      d = lower - 'a' + 10;
    else
      return std::nullopt;
    n = n * 16 + std::uint64_t(d);
  }
  return n;
}

// One line of a head, collected across reads up to a bound: a peer cannot make it grow without
// end. A line ends at LF; a CR right before the LF is dropped (RFC 9112 section 2.2).
class LineBuffer {
 public:
  enum class Status { Partial, Complete, TooLong };

  explicit LineBuffer(std::size_t max) : max_(max) {}

  // Takes bytes up to and including the next LF and returns how many. After Complete, line()
  // holds the line until the next take(); after TooLong, nothing more should be taken.
  std::size_t take(const char* data, std::size_t size, Status& status) {
    if (complete_) {
      line_.clear();
      complete_ = false;
    }
    const char* nl = static_cast<const char*>(std::memchr(data, '\n', size));
    const std::size_t end = nl ? std::size_t(nl - data) : size;
    if (line_.size() + end > max_) {
      status = Status::TooLong;
      return end;
    }
    line_.append(data, end);
    if (!nl) {
      status = Status::Partial;
      return size;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    complete_ = true;
    status = Status::Complete;
    return end + 1;
  }
  const std::string& line() const { return line_; }
  void clear() {
    line_.clear();
    complete_ = false;
  }

 private:
  std::size_t max_;
  std::string line_;
  bool complete_ = false;
};

}  // namespace lt::http
