// The built-in server's side of the tcp sink's wire frames: count them, echo them (--echo).
#include <algorithm>
#include <cstring>

#include "serve/stream_protocol.hpp"
#include "sinks/wire_header.hpp"

namespace lt {

namespace {

class WireProtocol final : public StreamProtocol {
 public:
  explicit WireProtocol(bool echo) : echo_(echo) {}

  // Counts frames by walking their length fields; the echo is the input itself, appended whole
  // (one copy per read), with a cut at each frame end when --delay holds it.
  bool take(const unsigned char* p, std::size_t n, Replies& replies) override {
    if (echo_) replies.out.append(p, n);
    std::uint64_t offset = replies.out.appended() - n;  // stream offset of p (echo) or unused
    while (n > 0) {
      if (frame_left_ > 0) {
        const std::size_t take = std::size_t(std::min<std::uint64_t>(frame_left_, n));
        frame_left_ -= take;
        p += take;
        n -= take;
        offset += take;
        if (frame_left_ == 0) {
          replies.unit_of(device_);
          if (echo_) replies.answered(offset);
        }
        continue;
      }
      header_[header_have_++] = *p++;
      --n;
      ++offset;
      if (header_have_ == 4) {
        const std::uint32_t len = wire_length(header_);
        if (len < kWireHeaderSize || len > kMaxWireMessage) {
          header_have_ = 0;
          replies.malformed();  // resynchronising is impossible on a stream: count and skip on
          continue;
        }
        length_ = len;
      }
      if (header_have_ < kHeadKept) continue;
      // Length and device id read: the rest of the frame is only counted (and echoed).
      header_have_ = 0;
      std::memcpy(&device_, header_ + 4, sizeof device_);
      frame_left_ = length_ - kHeadKept;
    }
    return true;
  }

 private:
  bool echo_;
  static constexpr std::uint32_t kHeadKept = 8;  // u32 length, u32 device
  unsigned char header_[kHeadKept];              // the current frame's first bytes, as they come
  std::uint32_t length_ = 0, device_ = 0;
  std::uint32_t header_have_ = 0;
  std::uint64_t frame_left_ = 0;  // bytes of the current frame still to come
};

}  // namespace

std::unique_ptr<StreamProtocol> make_wire_protocol(bool echo) {
  return std::make_unique<WireProtocol>(echo);
}

}  // namespace lt
