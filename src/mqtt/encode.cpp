#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "mqtt/codec.hpp"

// The MQTT encoders: what the sink sends (CONNECT, PUBLISH heads, acks, SUBSCRIBE, PINGREQ,
// DISCONNECT), appended to a connection's output buffer.
namespace lt::mqtt {

namespace {

// Strings and binary data carry a 2-byte length. Callers validate what they configure (client id,
// topic, credentials) at start-up; the encoders clamp so that the stream stays framed regardless.
constexpr std::size_t kMaxString = 65535;

std::size_t varint_size(std::size_t v) {
  std::size_t n = 1;
  while (v > 127) {
    v >>= 7;
    ++n;
  }
  return n;
}

void put_varint(std::string& out, std::size_t v) {
  do {
    auto byte = static_cast<unsigned char>(v & 0x7F);
    v >>= 7;
    if (v != 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (v != 0);
}

void put_u8(std::string& out, unsigned v) {
  out.push_back(static_cast<char>(v & 0xFF));
}

void put_u16(std::string& out, unsigned v) {
  put_u8(out, v >> 8);
  put_u8(out, v);
}

void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, v >> 16);
  put_u16(out, v & 0xFFFF);
}

std::size_t string_size(std::string_view s) {
  return 2 + std::min(s.size(), kMaxString);
}

// A UTF-8 string or binary data: 2-byte length, then the bytes.
void put_string(std::string& out, std::string_view s) {
  s = s.substr(0, kMaxString);
  put_u16(out, static_cast<unsigned>(s.size()));
  out.append(s);
}
}  // namespace

void encode_connect(std::string& out, const ConnectParams& p) {
  const bool v5 = p.version == Version::V5;
  std::size_t props = 0;
  if (v5) {
    if (p.session_expiry_s != 0) props += 5;
    if (p.receive_maximum != 0) props += 3;
  }
  std::size_t length = 10;  // protocol name, level, flags, keep alive
  if (v5) length += varint_size(props) + props;
  length += string_size(p.client_id);
  if (p.username) length += string_size(*p.username);
  if (p.password) length += string_size(*p.password);

  std::uint8_t flags = 0;
  if (p.username) flags |= 0x80;
  if (p.password) flags |= 0x40;
  if (p.clean) flags |= 0x02;

  out.reserve(out.size() + 1 + varint_size(length) + length);
  put_u8(out, 0x10);
  put_varint(out, length);
  put_string(out, "MQTT");
  put_u8(out, static_cast<unsigned>(p.version));
  put_u8(out, flags);
  put_u16(out, p.keepalive_s);
  if (v5) {
    put_varint(out, props);
    if (p.session_expiry_s != 0) {
      put_u8(out, property::kSessionExpiry);
      put_u32(out, p.session_expiry_s);
    }
    if (p.receive_maximum != 0) {
      put_u8(out, property::kReceiveMaximum);
      put_u16(out, p.receive_maximum);
    }
  }
  put_string(out, p.client_id);
  if (p.username) put_string(out, *p.username);
  if (p.password) put_string(out, *p.password);
}

PublishHead publish_head(Version v, std::string_view topic, std::uint8_t qos, bool retain,
                         std::size_t payload_size) {
  qos &= 3;
  const std::size_t length =
      string_size(topic) + (qos > 0 ? 2 : 0) + (v == Version::V5 ? 1 : 0) + payload_size;
  PublishHead head;
  head.bytes.reserve(1 + varint_size(length) + length - payload_size);
  put_u8(head.bytes, 0x30u | unsigned(qos) << 1 | (retain ? 1u : 0u));
  put_varint(head.bytes, length);
  put_string(head.bytes, topic);
  if (qos > 0) {
    head.id_offset = head.bytes.size();
    put_u16(head.bytes, 0);
  }
  if (v == Version::V5) put_u8(head.bytes, 0);  // no properties
  return head;
}

void set_dup(char* publish_first_byte) {
  *publish_first_byte = static_cast<char>(static_cast<unsigned char>(*publish_first_byte) | 0x08);
}

void encode_ack(std::string& out, Version /*v*/, Type type, std::uint16_t id) {
  // Both versions: remaining length 2, which in 5.0 means reason 0 (success) and no properties.
  put_u8(out, unsigned(type) << 4 | (type == Type::Pubrel ? 0x02u : 0u));
  put_u8(out, 2);
  put_u16(out, id);
}

void encode_subscribe(std::string& out, Version v, std::uint16_t id,
                      const std::vector<std::string>& filters, std::uint8_t qos) {
  std::size_t length = 2 + (v == Version::V5 ? 1 : 0);
  for (const std::string& f : filters) length += string_size(f) + 1;
  put_u8(out, 0x82);
  put_varint(out, length);
  put_u16(out, id);
  if (v == Version::V5) put_u8(out, 0);  // no properties
  for (const std::string& f : filters) {
    put_string(out, f);
    put_u8(out, qos & 3u);  // 5.0: No Local, Retain As Published and Retain Handling all 0
  }
}

void encode_pingreq(std::string& out) {
  put_u8(out, 0xC0);
  put_u8(out, 0);
}

void encode_disconnect(std::string& out, Version /*v*/) {
  // 5.0: remaining length 0 means reason 0x00 (normal disconnection) and no properties.
  put_u8(out, 0xE0);
  put_u8(out, 0);
}
}  // namespace lt::mqtt
