#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "serve/server_stats.hpp"

namespace lt {

// A counting (and optionally echoing) UDP server: one socket, batches of datagrams per syscall.
class UdpServer {
 public:
  UdpServer(const std::string& bind, std::uint16_t port, bool echo);
  ~UdpServer();
  std::uint16_t port() const;
  void run(const std::atomic<bool>& stop);
  const ServerStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lt
