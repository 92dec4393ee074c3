#include "net/socket_ops.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lt {

int open_socket(const Target& target, int type, std::uint64_t device) {
  const int fd = socket(target.addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || target.sources.empty()) return fd;
  const sockaddr_storage& src = target.sources[device % target.sources.size()];
  // Port 0 with this option defers the port choice to connect(), which then needs only the
  // whole 4-tuple to be unique: one source address serves ~28k connections per target port
  // instead of ~28k in total.
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  const socklen_t len = src.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&src), len) != 0) {
    const int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

int connect_socket(int fd, const Target& target) {
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&target.addr), target.addr_len);
  if (rc != 0 && (errno == EADDRNOTAVAIL || errno == EAGAIN)) errno = EADDRINUSE;
  return rc;
}

int dial(const Target& target, std::uint64_t device, Nanos peer_timeout) {
  const int fd = open_socket(target, SOCK_STREAM, device);
  if (fd < 0) return -1;
  int one = 1;
  // The sinks coalesce writes themselves; Nagle would only add latency on top.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Current kernels also count how long the peer's window stays shut, answered probes or not
  // (seen here on 6.x): a target that stops reading for that long is given up too.
  const auto ms = unsigned(std::clamp<Nanos>(peer_timeout / kMilli, 0, INT32_MAX));
  if (ms > 0) setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
  if (connect_socket(fd, target) != 0 && errno != EINPROGRESS) {
    const int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

int dial_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

bool resolve_sources(const std::vector<std::string>& ips, Target& target, std::string& error) {
  target.sources.clear();
  for (const auto& ip : ips) {
    Target one;
    if (!resolve_target(ip, 0, one, error)) return false;
    if (one.addr.ss_family != target.addr.ss_family) {
      error = ip + " is not of the target's address family";
      return false;
    }
    target.sources.push_back(one.addr);
  }
  return true;
}

std::uint64_t open_fd_count() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 0;
  const int own = ::dirfd(dir);
  std::uint64_t n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const long fd = std::strtol(e->d_name, nullptr, 10);
    n += fd > 2 && fd != own ? 1 : 0;
  }
  ::closedir(dir);
  return n;
}

Counter classify_errno(int err) {
  switch (err) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRINUSE:  // no free local port (connect_socket)
      return Counter::ErrResources;
    case ECONNREFUSED:
      return Counter::ErrRefused;
    case ETIMEDOUT:
      return Counter::ErrConnectTimeout;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EADDRNOTAVAIL:
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

Counter classify_io_errno(int err) {
  return err == ETIMEDOUT ? Counter::ErrTimeout : classify_errno(err);
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

std::string format_address(const sockaddr_storage& addr, bool with_port) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    if (!with_port) return buf;
    return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    if (!with_port) return buf;
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return buf;
}

rlimit raise_fd_limit(std::uint64_t want) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur >= want) return lim;
  // Root (CAP_SYS_RESOURCE) may raise the hard limit too, up to fs.nr_open.
  if (lim.rlim_max < want) {
    const rlimit raised{want, want};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised;
  }
  lim.rlim_cur = std::min<rlim_t>(want, lim.rlim_max);
  setrlimit(RLIMIT_NOFILE, &lim);
  getrlimit(RLIMIT_NOFILE, &lim);
  return lim;
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
