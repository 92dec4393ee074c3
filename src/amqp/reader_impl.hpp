#pragma once
// FrameReader::feed, included at the end of codec.hpp: a template so that the sink's callback is
// inlined into the loop that walks a read buffer.
#include <algorithm>
#include <cstdint>
#include <string_view>

namespace lt::amqp {

template <typename Fn>
bool FrameReader::feed(const char* data, std::size_t size, Fn&& on_frame) {
  if (!error_.empty()) return false;  // the stream is already known not to be AMQP
  const auto* in = reinterpret_cast<const unsigned char*>(data);
  std::size_t at = 0;

  if (!partial_.empty()) {
    // Finish the frame an earlier read began: first its 7-byte header and one more byte (see
    // check_header()), then the rest, whose size check_header() has bounded by frame-max.
    if (partial_.size() < kFrameOverhead) {
      const std::size_t take = std::min(kFrameOverhead - partial_.size(), size);
      partial_.append(data, take);
      at = take;
      if (partial_.size() < kFrameOverhead) return true;
    }
    const auto* head = reinterpret_cast<const unsigned char*>(partial_.data());
    const std::size_t body = check_header(head, !started_);
    if (body == SIZE_MAX) return false;
    const std::size_t total = kFrameHeader + body + 1;
    const std::size_t take = std::min(total - partial_.size(), size - at);
    partial_.append(data + at, take);
    at += take;
    if (partial_.size() < total) return true;
    started_ = true;
    if (static_cast<unsigned char>(partial_.back()) != kFrameEnd) {
      error_ = "a frame without its frame-end octet";
      return false;
    }
    head = reinterpret_cast<const unsigned char*>(partial_.data());  // the append may have moved it
    const Frame frame{static_cast<FrameType>(head[0]), std::uint16_t(head[1] << 8 | head[2]),
                      std::string_view(partial_.data() + kFrameHeader, body)};
    if (!on_frame(frame)) return true;  // the callee may have reset or destroyed us
    // A connection that once received a large frame should not keep its buffer for good.
    if (partial_.capacity() > 64 * 1024) {
      std::string().swap(partial_);
    } else {
      partial_.clear();
    }
  }

  while (at < size) {
    if (size - at < kFrameOverhead) {
      partial_.assign(data + at, size - at);
      return true;
    }
    const std::size_t body = check_header(in + at, !started_);
    if (body == SIZE_MAX) return false;
    const std::size_t total = kFrameHeader + body + 1;
    if (size - at < total) {
      partial_.reserve(total);  // bounded: check_header() held it to frame-max
      partial_.assign(data + at, size - at);
      return true;
    }
    started_ = true;
    if (in[at + total - 1] != kFrameEnd) {
      error_ = "a frame without its frame-end octet";
      return false;
    }
    const Frame frame{static_cast<FrameType>(in[at]), std::uint16_t(in[at + 1] << 8 | in[at + 2]),
                      std::string_view(data + at + kFrameHeader, body)};
    at += total;
    if (!on_frame(frame)) return true;
  }
  return true;
}

}  // namespace lt::amqp
