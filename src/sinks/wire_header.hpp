#pragma once
// The header at the front of every tcp/udp message. It frames messages on a stream (length) and
// carries what echo matching needs, so no per-message state is kept on the sending side:
//   u32 length     whole message, header included
//   u32 device     global device id
//   u64 seq        sender's sequence number (per device on tcp, per worker on udp)
//   i64 intended   intended send time, ns on the sender's monotonic clock
//   i64 sent       actual send time, same clock
// All little-endian.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "core/time.hpp"

namespace lt {

inline constexpr std::size_t kWireHeaderSize = 32;
// Upper bound on a framed message, so a corrupt length cannot make a reader buffer forever.
inline constexpr std::uint32_t kMaxWireMessage = 16u << 20;

struct WireHeader {
  std::uint32_t length;
  std::uint32_t device;
  std::uint64_t seq;
  Nanos intended;
  Nanos sent;
};

namespace wire_detail {
template <typename T>
inline void put(unsigned char* p, T v) {
  static_assert(std::endian::native == std::endian::little, "little-endian host assumed");
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
inline T get(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
}  // namespace wire_detail

inline void write_wire_header(unsigned char* p, const WireHeader& h) {
  using wire_detail::put;
  put(p, h.length);
  put(p + 4, h.device);
  put(p + 8, h.seq);
  put(p + 16, h.intended);
  put(p + 24, h.sent);
}

// Decodes the header at p (at least kWireHeaderSize bytes); nullopt if the length is impossible.
inline std::optional<WireHeader> read_wire_header(const unsigned char* p) {
  using wire_detail::get;
  WireHeader h{get<std::uint32_t>(p), get<std::uint32_t>(p + 4), get<std::uint64_t>(p + 8),
               get<Nanos>(p + 16), get<Nanos>(p + 24)};
  if (h.length < kWireHeaderSize || h.length > kMaxWireMessage) return std::nullopt;
  return h;
}

// A broker message's body at out[at]: its payload size, device, sequence and intended send time
// (the actual send time is stamped when its write begins).
inline void write_body_header(std::string& out, std::size_t at, std::uint64_t payload,
                              std::uint64_t device, std::uint64_t seq, Nanos intended) {
  write_wire_header(reinterpret_cast<unsigned char*>(out.data() + at),
                    WireHeader{std::uint32_t(payload), std::uint32_t(device), seq, intended, 0});
}

// Reads only the frame length, for splitting a stream without decoding the rest.
inline std::uint32_t wire_length(const unsigned char* p) {
  return wire_detail::get<std::uint32_t>(p);
}

}  // namespace lt
