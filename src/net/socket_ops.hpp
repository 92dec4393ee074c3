#pragma once
// Small socket helpers shared by the sinks and the built-in server.
#include <sys/resource.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "metrics/counters.hpp"
#include "sinks/sink.hpp"

namespace lt {

// A non-blocking, close-on-exec socket of the target's family, bound to the device's source
// address when --source-ip gave some; -1 with errno on failure.
int open_socket(const Target& target, int type, std::uint64_t device);
// connect() on a socket from open_socket(). When the kernel finds no free local port (TCP says
// EADDRNOTAVAIL, UDP EAGAIN) errno is EADDRINUSE, as bind() says it: open_socket() has already
// vouched for the source address, so these mean this machine ran out of ports (err_resources),
// not an address that is not ours (err_unreachable).
int connect_socket(int fd, const Target& target);
// A TCP connection to the target begun without waiting (TCP_NODELAY set): the socket, or -1
// with errno. Completion shows as writability; dial_error() then tells how it ended. Bytes sent
// and left unacknowledged, or a peer window left shut, for `peer_timeout` end the connection with
// ETIMEDOUT (TCP_USER_TIMEOUT; 0 = not set): a peer that vanished (a half-open connection) is
// found in that time, not after the kernel's ~15 minutes of retransmissions.
int dial(const Target& target, std::uint64_t device, Nanos peer_timeout);
// The connect's outcome once the socket is writable: 0 or the errno.
int dial_error(int fd);
// From TCP_INFO (zeros when unknown): bytes of this connection the peer has acknowledged, and
// bytes waiting in our kernel queue that its window does not let out yet.
struct TcpProgress {
  std::uint64_t acked = 0;
  std::uint64_t unsent = 0;
};
TcpProgress tcp_progress(int fd);
// Fills target.sources from --source-ip; false and `error` when an address does not fit.
bool resolve_sources(const std::vector<std::string>& ips, Target& target, std::string& error);
// Which error counter an errno from connect/send/recv belongs to.
Counter classify_errno(int err);
// The same for an established connection, where ETIMEDOUT means the peer stopped acknowledging
// (err_timeout), not a connect timeout.
Counter classify_io_errno(int err);
// Resolves host:port once at start-up; false and `error` filled when it does not resolve.
bool resolve_target(const std::string& host, std::uint16_t port, Target& out, std::string& error);
std::string format_address(const sockaddr_storage& addr, bool with_port = true);

// Descriptors open in this process now beyond stdin, stdout and stderr (entries of
// /proc/self/fd); 0 when unreadable.
std::uint64_t open_fd_count();
// Raises RLIMIT_NOFILE towards `want` (the hard limit too when privileged); returns the limits
// now in force.
rlimit raise_fd_limit(std::uint64_t want);

// Capped exponential backoff with jitter for reconnects: 50 ms, 100 ms, ... 2 s, each scaled by a
// random factor in [0.5, 1) so that devices dropped together do not reconnect in lockstep.
Nanos reconnect_delay(unsigned attempt, std::uint64_t& rng_state);

}  // namespace lt
