#include "sinks/echo_reader.hpp"

#include <algorithm>
#include <cstddef>

namespace lt {

EchoScan read_echo_replies(const unsigned char* data, std::size_t size,
                           std::vector<WireHeader>& replies) {
  EchoScan scan;
  while (size - scan.consumed >= kWireHeaderSize) {
    const auto h = read_wire_header(data + scan.consumed);
    if (!h) {
      scan.malformed = true;
      break;
    }
    if (size - scan.consumed < h->length) break;
    scan.consumed += h->length;
    replies.push_back(*h);
  }
  return scan;
}

bool EchoReader::feed(const unsigned char* data, std::size_t n, std::vector<WireHeader>& replies) {
  replies.clear();
  if (malformed_) return false;
  std::size_t used = 0;
  // Only the frame cut by the last read is finished here: taking the whole read into partial_
  // would copy every byte after it as well.
  auto take = [&](std::size_t want) {
    const std::size_t k = std::min(want, n - used);
    partial_.insert(partial_.end(), data + used, data + used + k);
    used += k;
  };
  if (!partial_.empty()) {
    if (partial_.size() < kWireHeaderSize) take(kWireHeaderSize - partial_.size());
    if (partial_.size() < kWireHeaderSize) return true;
    const auto h = read_wire_header(partial_.data());
    if (!h) return fail();
    take(h->length - partial_.size());
    if (partial_.size() < h->length) return true;
    replies.push_back(*h);
    partial_.clear();
  }
  const EchoScan scan = read_echo_replies(data + used, n - used, replies);
  if (scan.malformed) return fail();
  partial_.assign(data + used + scan.consumed, data + n);
  return true;
}

bool EchoReader::fail() {
  malformed_ = true;
  partial_.clear();  // nothing more is read from this stream
  return false;
}

}  // namespace lt
