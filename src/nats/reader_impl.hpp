#pragma once
// Reader::feed, included at the end of codec.hpp: a template so that the sink's callback is
// inlined into the loop that walks a read buffer.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace lt::nats {

namespace detail {

// The whole length of a MSG or HMSG of which `op` holds at least the control line, once parse()
// has accepted that line: its last field is then the count of the bytes that follow it, and the
// payload ends with CRLF. Not a parser: it trusts parse() and only finds the number again.
inline std::size_t msg_length(std::string_view op) {
  const std::size_t line = op.find('\n') + 1;
  std::size_t end = line - 1;
  if (end > 0 && op[end - 1] == '\r') --end;
  while (end > 0 && (op[end - 1] == ' ' || op[end - 1] == '\t')) --end;
  std::size_t begin = end;
  while (begin > 0 && op[begin - 1] >= '0' && op[begin - 1] <= '9') --begin;
  std::size_t count = 0;
  std::from_chars(op.data() + begin, op.data() + end, count);
  return line + count + 2;
}

}  // namespace detail

template <typename Fn>
bool Reader::feed(const char* data, std::size_t size, Fn&& on_message) {
  if (!error_.empty()) return false;  // the stream is already known not to be NATS
  std::size_t at = 0;
  Message m{};

  if (!partial_.empty()) {
    // Finish the operation an earlier read began. partial_ holds only its bytes: first the rest
    // of its control line (taken up to its '\n', so nothing past it is copied), then, for a MSG
    // or HMSG, exactly the payload bytes its line announced.
    std::size_t used = 0;
    while (used == 0) {
      if (at == size) return true;
      const bool in_line = std::memchr(partial_.data(), '\n', partial_.size()) == nullptr;
      std::size_t take = size - at;
      if (in_line) {
        const void* nl = std::memchr(data + at, '\n', size - at);
        if (nl != nullptr) take = static_cast<const char*>(nl) - (data + at) + 1;
        // Never past the bound, which parse() then reports; partial_ stays below it until then.
        take = std::min(take, kMaxControlLine - partial_.size());
      } else {
        const std::size_t total = detail::msg_length(partial_);
        partial_.reserve(total);  // bounded: parse() has checked the size against max_payload_
        take = std::min(take, total - partial_.size());
      }
      partial_.append(data + at, take);
      at += take;
      used = parse(partial_.data(), partial_.size(), m);
      if (used == SIZE_MAX) return false;
    }
    if (!on_message(m)) return true;  // the callee may have reset or destroyed us
    // A connection that once received a large message should not keep its buffer for good.
    if (partial_.capacity() > 64 * 1024) {
      std::string().swap(partial_);
    } else {
      partial_.clear();
    }
  }

  while (at < size) {
    const std::size_t used = parse(data + at, size - at, m);
    if (used == SIZE_MAX) return false;
    if (used == 0) {
      // The operation continues in a later read. A whole control line has passed parse(), so the
      // message's size is known and bounded by max_payload_: reserving it up front is bounded too.
      const std::string_view rest(data + at, size - at);
      if (rest.find('\n') != std::string_view::npos) partial_.reserve(detail::msg_length(rest));
      partial_.assign(rest);
      return true;
    }
    at += used;
    if (!on_message(m)) return true;
  }
  return true;
}

}  // namespace lt::nats
