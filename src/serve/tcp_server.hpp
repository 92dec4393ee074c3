#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "serve/server_stats.hpp"

namespace lt {

// A counting (and optionally echoing) TCP server on one epoll loop. It splits the stream into
// frames by the wire header's length only, so it counts exactly what arrived, whatever the payload.
class TcpServer {
 public:
  // Binds and listens; throws std::runtime_error with the reason on failure.
  TcpServer(const std::string& bind, std::uint16_t port, bool echo);
  ~TcpServer();
  std::uint16_t port() const;
  // Serves until `stop` is set, then drains: reads until every peer closed or the line is idle.
  void run(const std::atomic<bool>& stop);
  const ServerStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lt
