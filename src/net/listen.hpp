#pragma once
#include <cstdint>
#include <string>

namespace lt {
// A bound, non-blocking socket (listening when type is SOCK_STREAM) on bind:port, port 0 = any
// free port. Throws std::runtime_error naming the address and the reason.
int bind_socket(const std::string& bind, std::uint16_t port, int type);
std::uint16_t local_port(int fd);
}  // namespace lt
