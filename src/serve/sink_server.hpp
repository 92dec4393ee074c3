#pragma once
// The built-in server's one interface, implemented once per transport (tcp_server, udp_server);
// the TCP server speaks the wire frames or HTTP through a StreamProtocol (stream_protocol.hpp).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "cli/options.hpp"
#include "serve/server_stats.hpp"

namespace lt {

class SinkServer {
 public:
  virtual ~SinkServer() = default;
  virtual std::uint16_t port() const = 0;
  // Serves until `stop` is set, then drains what peers still send (bounded), and returns.
  virtual void run(const std::atomic<bool>& stop) = 0;
  virtual const ServerStats& stats() const = 0;
};

// Both bind and listen at once; they throw std::runtime_error naming the address and reason.
// TCP splits the stream into frames by the wire header's length only, so it counts exactly what
// arrived whatever the payload; UDP reads batches of datagrams per syscall.
// `faults` delays, stalls or drops echoes (see ServeFaults).
std::unique_ptr<SinkServer> make_tcp_server(const std::string& bind, std::uint16_t port, bool echo,
                                            const ServeFaults& faults);
// HTTP/1.1 on the TCP server's connection machinery: `200 OK` with a small body for every request,
// in order; `400 Bad Request` (counted malformed) for one that does not parse. `faults` as above.
std::unique_ptr<SinkServer> make_http_server(const std::string& bind, std::uint16_t port,
                                             const ServeFaults& faults);
std::unique_ptr<SinkServer> make_udp_server(const std::string& bind, std::uint16_t port, bool echo,
                                            const ServeFaults& faults);

}  // namespace lt
