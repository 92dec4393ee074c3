#pragma once
// The tcp sink's reader of echoed frames (--echo). Kept apart from the sink so that the byte
// handling, where a peer controls every byte, can be fuzzed and tested without sockets.
#include <cstddef>
#include <vector>

#include "sinks/wire_header.hpp"

namespace lt {

struct EchoScan {
  std::size_t consumed = 0;  // bytes of the whole frames read
  bool malformed = false;    // the header at `consumed` has an impossible length
};

// Appends the headers of the whole frames at the front of data[0, size) to `replies`, in order.
// Stops at an unfinished frame, or at a header whose length is impossible: the frames cannot be
// found again after it, so the stream is malformed.
EchoScan read_echo_replies(const unsigned char* data, std::size_t size,
                           std::vector<WireHeader>& replies);

// One connection's stream of replies, which reads may cut anywhere. Only a frame cut across
// reads is copied (into its own buffer); whole frames are read in place.
class EchoReader {
 public:
  // Reads one read's bytes: `replies` is set to the frames they finish. False when the stream
  // is malformed, from that read on until clear(); frames before the bad header still count.
  bool feed(const unsigned char* data, std::size_t n, std::vector<WireHeader>& replies);
  bool malformed() const { return malformed_; }
  std::size_t buffered() const { return partial_.size(); }  // of a frame not yet whole
  void clear() {
    partial_.clear();
    malformed_ = false;
  }

 private:
  bool fail();
  std::vector<unsigned char> partial_;
  bool malformed_ = false;
};

}  // namespace lt
