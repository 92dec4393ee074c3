#include "net/socket_ops.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace lt {

int open_socket(const Target& target, int type) {
  return socket(target.addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

Counter classify_errno(int err) {
  switch (err) {
    case ECONNREFUSED:
      return Counter::ErrRefused;
    case ETIMEDOUT:
      return Counter::ErrConnectTimeout;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EADDRNOTAVAIL:
    case EADDRINUSE:
      return Counter::ErrUnreachable;
    case ECONNRESET:
    case ECONNABORTED:
      return Counter::ErrReset;
    case EPIPE:
      return Counter::ErrClosed;
    default:
      return Counter::ErrSend;
  }
}

bool resolve_target(const std::string& host, std::uint16_t port, Target& out, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 || !res) {
    error = gai_strerror(rc);
    return false;
  }
  std::memcpy(&out.addr, res->ai_addr, res->ai_addrlen);
  out.addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

std::string format_address(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    port = ntohs(a->sin_port);
    return std::string(buf) + ":" + std::to_string(port);
  }
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    port = ntohs(a->sin6_port);
    return "[" + std::string(buf) + "]:" + std::to_string(port);
  }
  return buf;
}

Nanos reconnect_delay(unsigned attempt, std::uint64_t& rng_state) {
  constexpr Nanos base = 50 * kMilli, cap = 2 * kSecond;
  Nanos d = base << std::min(attempt, 6u);
  d = std::min(d, cap);
  // xorshift64: cheap, and reproducible per worker.
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  double jitter = 0.5 + 0.5 * double(rng_state >> 11) / double(1ULL << 53);
  return Nanos(double(d) * jitter);
}

}  // namespace lt
