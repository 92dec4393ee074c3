#pragma once
// Small socket helpers shared by the sinks and the built-in server.
#include <sys/socket.h>

#include <string>

#include "metrics/counters.hpp"
#include "sinks/sink.hpp"

namespace lt {

// A non-blocking, close-on-exec socket of the target's family; -1 with errno on failure.
int open_socket(const Target& target, int type);
// Which error counter an errno from connect/send/recv belongs to.
Counter classify_errno(int err);
// Resolves host:port once at start-up; false and `error` filled when it does not resolve.
bool resolve_target(const std::string& host, std::uint16_t port, Target& out, std::string& error);
std::string format_address(const sockaddr_storage& addr);

// Capped exponential backoff with jitter for reconnects: 50 ms, 100 ms, ... 2 s, each scaled by a
// random factor in [0.5, 1) so that devices dropped together do not reconnect in lockstep.
Nanos reconnect_delay(unsigned attempt, std::uint64_t& rng_state);

}  // namespace lt
