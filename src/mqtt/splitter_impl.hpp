#pragma once
// Splitter::feed, included at the end of codec.hpp: a template so that the sink's callback is
// inlined into the loop that walks a read buffer.
#include <algorithm>
#include <cstdint>
#include <string_view>

namespace lt::mqtt {

template <typename Fn>
bool Splitter::feed(const char* data, std::size_t size, Fn&& on_packet) {
  if (!error_.empty()) return false;  // the stream is already known not to be MQTT
  const auto* in = reinterpret_cast<const unsigned char*>(data);
  std::size_t at = 0;

  if (!partial_.empty()) {
    // Finish the packet an earlier read began. partial_ holds only its bytes: first complete the
    // fixed header (at most 5 bytes, taken one at a time so nothing past it is copied), then the
    // body, which header() has already checked against max_.
    std::size_t head = 0, body = 0;
    for (;;) {
      head = header(reinterpret_cast<const unsigned char*>(partial_.data()), partial_.size(), body);
      if (head == SIZE_MAX) return false;
      if (head != 0) break;
      if (at == size) return true;
      partial_.push_back(data[at++]);
    }
    const std::size_t total = head + body;
    const std::size_t take = std::min(total - partial_.size(), size - at);
    partial_.append(data + at, take);
    at += take;
    if (partial_.size() < total) return true;
    const auto first = static_cast<unsigned char>(partial_[0]);
    const Packet packet{static_cast<Type>(first >> 4), static_cast<std::uint8_t>(first & 0x0F),
                        std::string_view(partial_.data() + head, body)};
    if (!on_packet(packet)) return true;  // the callee may have reset or destroyed us
    // A connection that once received a large packet should not keep its buffer for good.
    if (partial_.capacity() > 64 * 1024) {
      std::string().swap(partial_);
    } else {
      partial_.clear();
    }
  }

  while (at < size) {
    std::size_t body = 0;
    const std::size_t head = header(in + at, size - at, body);
    if (head == SIZE_MAX) return false;
    if (head == 0 || size - at - head < body) {
      // The packet continues in a later read. Its size is bounded by max_ + 5 (header() checked
      // the body), so reserving it up front is bounded too.
      if (head != 0) partial_.reserve(head + body);
      partial_.assign(data + at, size - at);
      return true;
    }
    const Packet packet{static_cast<Type>(in[at] >> 4), static_cast<std::uint8_t>(in[at] & 0x0F),
                        std::string_view(data + at + head, body)};
    at += head + body;
    if (!on_packet(packet)) return true;
  }
  return true;
}

}  // namespace lt::mqtt
