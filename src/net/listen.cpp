#include "net/listen.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "net/socket_ops.hpp"

namespace lt {

int bind_socket(const std::string& bind, std::uint16_t port, int type) {
  Target addr;
  std::string error;
  if (!resolve_target(bind, port, addr, error))
    throw std::runtime_error(fmt::format("--bind: cannot resolve \"{}\": {}", bind, error));
  int fd = socket(addr.addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr.addr), addr.addr_len) != 0 ||
      (type == SOCK_STREAM && listen(fd, 4096) != 0)) {
    int err = errno;
    close(fd);
    throw std::runtime_error(
        fmt::format("cannot listen on {}:{}: {}", bind, port, std::strerror(err)));
  }
  return fd;
}

std::uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace lt
