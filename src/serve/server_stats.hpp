#pragma once
// What the built-in server counts, so tests can compare it with what the tool says it sent.
#include <algorithm>
#include <cstdint>
#include <vector>

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

  // Messages per device id (the wire header's), so a test can check that a distributed run
  // used every device exactly once. Ids from kTrackedDevices on are only counted as such.
  static constexpr std::uint32_t kTrackedDevices = 1u << 20;
  std::vector<std::uint32_t> per_device;
  std::uint64_t untracked_devices = 0;
  void device_message(std::uint32_t device) {
    if (device >= kTrackedDevices) {
      ++untracked_devices;
      return;
    }
    if (device >= per_device.size())
      per_device.resize(std::max<std::size_t>(device + 1, per_device.size() * 2));
    ++per_device[device];
  }
};

}  // namespace lt
