#pragma once
// MQTT 3.1.1 and 5.0 packets as the MQTT sink needs them: encoders that append to a connection's
// output buffer, and an incremental splitter plus parsers for what a broker sends back. Our own
// codec rather than libmosquitto: the sink coalesces many publishes into one write per connection
// and stamps send times into buffered bytes, which a library that owns its socket and its queue
// cannot do; and 10,000 connections cost one small struct each, not a library client each.
// Everything that reads broker bytes is bounded and fuzzed: no input may crash it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lt::mqtt {

enum class Version : std::uint8_t { V311 = 4, V5 = 5 };

// The 5.0 property identifiers the sink writes or reads.
namespace property {
constexpr std::uint8_t kSessionExpiry = 0x11, kServerKeepAlive = 0x13, kReceiveMaximum = 0x21,
                       kMaximumQos = 0x24, kRetainAvailable = 0x25, kMaximumPacketSize = 0x27;
}  // namespace property

enum class Type : std::uint8_t {
  Connect = 1,
  Connack,
  Publish,
  Puback,
  Pubrec,
  Pubrel,
  Pubcomp,
  Subscribe,
  Suback,
  Unsubscribe,
  Unsuback,
  Pingreq,
  Pingresp,
  Disconnect,
  Auth,
};

struct ConnectParams {
  Version version = Version::V311;
  std::string client_id;
  bool clean = true;  // clean session (3.1.1) / clean start (5.0)
  std::uint16_t keepalive_s = 60;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::uint32_t session_expiry_s = 0;  // 5.0: property 0x11 when non-zero
  std::uint16_t receive_maximum = 0;   // 5.0: property 0x21 when non-zero
};
void encode_connect(std::string& out, const ConnectParams& p);

// The bytes of a PUBLISH before its payload, built once per device (its topic never changes).
// For QoS 1 and 2, the packet identifier sits at id_offset and is patched per message.
struct PublishHead {
  std::string bytes;
  std::size_t id_offset = std::string::npos;  // npos for QoS 0
};
PublishHead publish_head(Version v, std::string_view topic, std::uint8_t qos, bool retain,
                         std::size_t payload_size);
// Sets the DUP flag of an encoded PUBLISH (a resend after reconnect).
void set_dup(char* publish_first_byte);
// PUBACK, PUBREC, PUBREL (flags 0b0010 as the spec requires) or PUBCOMP with reason 0 (success).
void encode_ack(std::string& out, Version v, Type type, std::uint16_t id);
void encode_subscribe(std::string& out, Version v, std::uint16_t id,
                      const std::vector<std::string>& filters, std::uint8_t qos);
void encode_pingreq(std::string& out);
void encode_disconnect(std::string& out, Version v);

// One packet as framed on the wire; `body` (variable header and payload) points into the
// splitter's input or its own buffer and is valid until the next feed().
struct Packet {
  Type type;
  std::uint8_t flags;  // the low nibble of the first byte
  std::string_view body;
};

// Splits a byte stream into packets. Only a packet split across reads is copied.
class Splitter {
 public:
  explicit Splitter(std::size_t max_packet = 1u << 20) : max_(max_packet) {}
  // Calls on_packet(const Packet&) for each complete packet in order; it returns false to stop
  // (the connection is being closed). Returns false when the stream is not MQTT (bad remaining
  // length, a packet over the limit, type 0): see error().
  template <typename Fn>
  bool feed(const char* data, std::size_t size, Fn&& on_packet);
  const std::string& error() const { return error_; }
  void reset() {
    partial_.clear();
    error_.clear();
  }

 private:
  // Length of the fixed header and the body size of the packet starting at p, when complete
  // enough to tell; 0 when more bytes are needed; SIZE_MAX when malformed (error_ set).
  std::size_t header(const unsigned char* p, std::size_t size, std::size_t& body);
  std::size_t max_;
  std::string partial_;
  std::string error_;
};

struct Connack {
  bool session_present = false;
  std::uint8_t code = 0;                  // 0 = accepted
  std::uint16_t receive_maximum = 65535;  // 5.0 property, else the protocol's limit
  std::uint32_t maximum_packet_size = 0;  // 0 = no limit given
  std::uint8_t maximum_qos = 2;
  bool retain_available = true;
  std::uint16_t server_keepalive_s = 0;  // 0 = not given
};
// nullopt with `why` when the packet does not parse.
std::optional<Connack> parse_connack(Version v, std::string_view body, std::string& why);

struct Ack {
  std::uint16_t id = 0;
  std::uint8_t reason = 0;  // 5.0 reason code (>= 0x80 is a failure); 3.1.1 always 0
};
// PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK-style id + reason.
std::optional<Ack> parse_ack(Version v, std::string_view body, std::string& why);

struct Suback {
  std::uint16_t id = 0;
  std::vector<std::uint8_t> codes;  // granted QoS (0..2) or a failure (0x80 and up)
};
std::optional<Suback> parse_suback(Version v, std::string_view body, std::string& why);

struct Publish {
  std::uint8_t qos = 0;
  bool retain = false, dup = false;
  std::string_view topic;
  std::uint16_t id = 0;  // QoS 1 and 2 only
  std::string_view payload;
};
std::optional<Publish> parse_publish(Version v, std::uint8_t flags, std::string_view body,
                                     std::string& why);

// 5.0 DISCONNECT from the broker: its reason code (0 when absent); 3.1.1 has none.
std::uint8_t parse_disconnect_reason(Version v, std::string_view body);

// A CONNACK return/reason code in words: "not authorized", "bad user name or password", ...
std::string_view connack_reason(Version v, std::uint8_t code);
// Any 5.0 reason code in words (PUBACK, DISCONNECT, SUBACK failures).
std::string_view reason_name(std::uint8_t code);

}  // namespace lt::mqtt

#include "mqtt/splitter_impl.hpp"  // the template member, kept out of this overview
