#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "core/time.hpp"
#include "net/listen.hpp"
#include "serve/sink_server.hpp"
#include "sinks/wire_header.hpp"

namespace lt {

namespace {
constexpr int kBatch = 64;
constexpr std::size_t kMaxDatagram = 65536;
constexpr Nanos kDrainIdle = 200 * kMilli;

class UdpServer final : public SinkServer {
 public:
  UdpServer(const std::string& bind, std::uint16_t port, bool echo_back) : echo(echo_back) {
    fd = bind_socket(bind, port, SOCK_DGRAM);
    // A deep receive queue absorbs bursts from thousands of devices; the kernel caps the value.
    int size = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  ~UdpServer() override { close(fd); }
  std::uint16_t port() const override { return local_port(fd); }
  void run(const std::atomic<bool>& stop) override { loop(stop); }
  const ServerStats& stats() const override { return stats_; }

 private:
  int fd = -1;
  bool echo;
  ServerStats stats_;
  std::vector<unsigned char> bufs = std::vector<unsigned char>(kBatch * kMaxDatagram);
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  sockaddr_storage peers[kBatch];

  // Reads every datagram queued now; returns how many.
  int drain_socket() {
    int total = 0;
    // Bounded, so a flood cannot keep the loop from seeing a stop request.
    for (int round = 0; round < 64; ++round) {
      for (int i = 0; i < kBatch; ++i) {
        iovs[i] = {bufs.data() + i * kMaxDatagram, kMaxDatagram};
        msgs[i].msg_hdr = msghdr{};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &peers[i];
        msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
      }
      int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return total;
      total += n;
      for (int i = 0; i < n; ++i) {
        const std::size_t len = msgs[i].msg_len;
        stats_.bytes += len;
        ++stats_.messages;
        const unsigned char* p = bufs.data() + i * kMaxDatagram;
        if (len < kWireHeaderSize || wire_length(p) != len) ++stats_.malformed;
        iovs[i].iov_len = len;  // echo exactly what came
      }
      if (echo) {
        int sent = sendmmsg(fd, msgs, unsigned(n), MSG_DONTWAIT);
        for (int i = 0; i < sent; ++i) stats_.echoed_bytes += msgs[i].msg_len;
      }
    }
    return total;
  }

  void loop(const std::atomic<bool>& stop) {
    Nanos last_data = monotonic_now(), stop_seen = 0;
    for (;;) {
      if (stop.load(std::memory_order_relaxed)) {
        const Nanos now = monotonic_now();
        if (stop_seen == 0) stop_seen = last_data = now;
        if (now - last_data >= kDrainIdle || now - stop_seen >= 3 * kSecond) return;
      }
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) > 0 && drain_socket() > 0) last_data = monotonic_now();
    }
  }
};

}  // namespace

std::unique_ptr<SinkServer> make_udp_server(const std::string& bind, std::uint16_t port,
                                            bool echo) {
  return std::make_unique<UdpServer>(bind, port, echo);
}

}  // namespace lt
