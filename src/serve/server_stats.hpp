#pragma once
// What the built-in server counts, so tests can compare it with what the tool says it sent.
#include <cstdint>

namespace lt {

struct ServerStats {
  std::uint64_t messages = 0;  // whole framed messages (tcp) or datagrams (udp)
  std::uint64_t bytes = 0;
  std::uint64_t malformed = 0;    // frames or datagrams whose header does not parse
  std::uint64_t connections = 0;  // accepted (tcp)
  std::uint64_t closed = 0;       // connections the peer closed
  std::uint64_t echoed_bytes = 0;
  std::uint64_t dropped = 0;         // left unanswered on purpose (--drop)
  std::uint64_t stalls = 0;          // stall windows entered (--stall)
  std::uint64_t peer_addresses = 0;  // distinct source addresses seen (tcp)
};

}  // namespace lt
