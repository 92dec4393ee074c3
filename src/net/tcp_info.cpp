// Apart from socket_ops.cpp: glibc's <netinet/tcp.h> has an older struct tcp_info without
// tcpi_bytes_acked, and it cannot be included beside the kernel's <linux/tcp.h>.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

#include "net/socket_ops.hpp"

namespace lt {

TcpProgress tcp_progress(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_notsent_bytes) + sizeof info.tcpi_notsent_bytes)
    return {};
  return {info.tcpi_bytes_acked, info.tcpi_notsent_bytes};
}

}  // namespace lt
