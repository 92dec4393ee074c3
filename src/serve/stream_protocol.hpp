#pragma once
// The protocol of one connection to the built-in TCP server, the part that differs between the
// wire-frame sink and HTTP: it splits what the peer sends into units (frames, requests), counts
// them, and appends what it owes the peer to the connection's queue. The server around it does
// the rest, the same for every protocol: accepting, reading, writing in order, --delay, --stall,
// closing.
#include <cstdint>
#include <memory>

#include "core/time.hpp"
#include "serve/echo_queue.hpp"
#include "serve/faults.hpp"
#include "serve/server_stats.hpp"

namespace lt {

// What a protocol reports about the bytes of one read.
class Replies {
 public:
  // `hold`: replies wait for --delay, each from `now` (the time the read returned).
  Replies(EchoQueue& out, ServerStats& stats, Faults& faults, Nanos now, bool hold)
      : out(out), stats_(stats), faults_(faults), now_(now), hold_(hold) {}

  EchoQueue& out;  // what the connection owes its peer, in stream order

  void unit() { ++stats_.messages; }
  void unit_of(std::uint32_t device) {
    ++stats_.messages;
    stats_.device_message(device);
  }
  void malformed() { ++stats_.malformed; }
  // The bytes of `out` up to stream offset `end` answer a unit read now: with --delay they
  // become sendable after their own delay (never before the bytes ahead of them).
  void answered(std::uint64_t end) {
    if (hold_) out.hold(end, now_ + faults_.draw_delay());
  }

 private:
  ServerStats& stats_;
  Faults& faults_;
  Nanos now_;
  bool hold_;
};

class StreamProtocol {
 public:
  virtual ~StreamProtocol() = default;
  // Takes the `n` bytes just read from the peer. Returns false when the connection is to close
  // once what it owes has been sent (the peer asked to, or its input cannot be parsed on); the
  // server then passes it nothing more.
  virtual bool take(const unsigned char* p, std::size_t n, Replies& replies) = 0;
};

// One instance per connection. The wire-frame protocol counts frames by their length fields and
// (`echo`) returns every byte; HTTP answers each request with a small fixed response.
std::unique_ptr<StreamProtocol> make_wire_protocol(bool echo);
std::unique_ptr<StreamProtocol> make_http_protocol();

}  // namespace lt
