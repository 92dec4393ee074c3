#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "mqtt/codec.hpp"

// The MQTT decoders: the splitter's framing and the parsers of what a broker sends. Every read is
// bounds-checked and bounded by the packet; nothing recurses.
namespace lt::mqtt {

namespace {

// Bounds-checked reads from a packet body; every read fails (and moves nothing) past the end.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  std::size_t left() const { return s_.size(); }
  bool empty() const { return s_.empty(); }

  bool u8(std::uint8_t& v) {
    if (s_.empty()) return false;
    v = static_cast<std::uint8_t>(s_[0]);
    s_.remove_prefix(1);
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (s_.size() < 2) return false;
    v = static_cast<std::uint16_t>(byte(0) << 8 | byte(1));
    s_.remove_prefix(2);
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (s_.size() < 4) return false;
    v = std::uint32_t(byte(0)) << 24 | std::uint32_t(byte(1)) << 16 | std::uint32_t(byte(2)) << 8 |
        std::uint32_t(byte(3));
    s_.remove_prefix(4);
    return true;
  }
  // A variable byte integer: at most 4 bytes.
  bool varint(std::uint32_t& v) {
    v = 0;
    for (std::size_t i = 0; i < 4 && i < s_.size(); ++i) {
      v |= std::uint32_t(byte(i) & 0x7F) << (7 * i);
      if ((byte(i) & 0x80) == 0) {
        s_.remove_prefix(i + 1);
        return true;
      }
    }
    return false;
  }
  // A UTF-8 string or binary data: 2-byte length, then the bytes.
  bool string(std::string_view& v) {
    if (s_.size() < 2) return false;
    const auto n = static_cast<std::uint16_t>(byte(0) << 8 | byte(1));
    if (s_.size() - 2 < n) return false;
    v = s_.substr(2, n);
    s_.remove_prefix(2 + std::size_t(n));
    return true;
  }
  bool take(std::size_t n, std::string_view& v) {
    if (s_.size() < n) return false;
    v = s_.substr(0, n);
    s_.remove_prefix(n);
    return true;
  }
  std::string_view rest() {
    std::string_view r = s_;
    s_ = {};
    return r;
  }

 private:
  unsigned byte(std::size_t i) const { return static_cast<unsigned char>(s_[i]); }
  std::string_view s_;
};

enum class PropType : std::uint8_t { Invalid, Byte, U16, U32, Varint, String, Binary, Pair };

// The type of every property MQTT 5.0 defines (section 2.2.2.2), by identifier.
constexpr std::array<PropType, 0x2B> kPropTypes = [] {
  std::array<PropType, 0x2B> t{};
  t[0x01] = PropType::Byte;    // Payload Format Indicator
  t[0x02] = PropType::U32;     // Message Expiry Interval
  t[0x03] = PropType::String;  // Content Type
  t[0x08] = PropType::String;  // Response Topic
  t[0x09] = PropType::Binary;  // Correlation Data
  t[0x0B] = PropType::Varint;  // Subscription Identifier
  t[0x11] = PropType::U32;     // Session Expiry Interval
  t[0x12] = PropType::String;  // Assigned Client Identifier
  t[0x13] = PropType::U16;     // Server Keep Alive
  t[0x15] = PropType::String;  // Authentication Method
  t[0x16] = PropType::Binary;  // Authentication Data
  t[0x17] = PropType::Byte;    // Request Problem Information
  t[0x18] = PropType::U32;     // Will Delay Interval
  t[0x19] = PropType::Byte;    // Request Response Information
  t[0x1A] = PropType::String;  // Response Information
  t[0x1C] = PropType::String;  // Server Reference
  t[0x1F] = PropType::String;  // Reason String
  t[0x21] = PropType::U16;     // Receive Maximum
  t[0x22] = PropType::U16;     // Topic Alias Maximum
  t[0x23] = PropType::U16;     // Topic Alias
  t[0x24] = PropType::Byte;    // Maximum QoS
  t[0x25] = PropType::Byte;    // Retain Available
  t[0x26] = PropType::Pair;    // User Property
  t[0x27] = PropType::U32;     // Maximum Packet Size
  t[0x28] = PropType::Byte;    // Wildcard Subscription Available
  t[0x29] = PropType::Byte;    // Subscription Identifier Available
  t[0x2A] = PropType::Byte;    // Shared Subscription Available
  return t;
}();

bool fail(std::string& why, const char* what) {
  why = what;
  return false;
}
std::nullopt_t refuse(std::string& why, const char* what) {
  why = what;
  return std::nullopt;
}

// Reads a 5.0 property list (its length, then the properties) and checks that every property is
// one MQTT 5.0 defines, is whole, and (but for User Property and Subscription Identifier) appears
// at most once. The values a CONNACK carries for the client are stored in `connack` when given;
// the rest are skipped. Iterative and bounded by the list's length.
bool read_properties(Reader& r, Connack* connack, std::string& why) {
  std::uint32_t length = 0;
  if (!r.varint(length)) return fail(why, "truncated or malformed property length");
  std::string_view list;
  if (!r.take(length, list)) return fail(why, "property length beyond the packet");
  Reader p(list);
  std::uint64_t seen = 0;
  while (!p.empty()) {
    std::uint32_t id = 0;
    if (!p.varint(id)) return fail(why, "malformed property identifier");
    if (id >= kPropTypes.size() || kPropTypes[id] == PropType::Invalid) {
      return fail(why, "unknown property identifier");
    }
    if (id != 0x26 && id != 0x0B) {
      if (seen & (std::uint64_t(1) << id)) return fail(why, "a property included twice");
      seen |= std::uint64_t(1) << id;
    }
    std::uint8_t b = 0;
    std::uint16_t h = 0;
    std::uint32_t w = 0;
    std::string_view s;
    bool ok = false;
    switch (kPropTypes[id]) {
      case PropType::Byte:
        ok = p.u8(b);
        break;
      case PropType::U16:
        ok = p.u16(h);
        break;
      case PropType::U32:
        ok = p.u32(w);
        break;
      case PropType::Varint:
        ok = p.varint(w);
        break;
      case PropType::String:
      case PropType::Binary:
        ok = p.string(s);
        break;
      case PropType::Pair:
        ok = p.string(s) && p.string(s);
        break;
      case PropType::Invalid:
        break;
    }
    if (!ok) return fail(why, "truncated property");
    if (connack == nullptr) continue;
    switch (id) {
      case property::kReceiveMaximum:
        if (h == 0) return fail(why, "Receive Maximum of 0");
        connack->receive_maximum = h;
        break;
      case property::kMaximumPacketSize:
        if (w == 0) return fail(why, "Maximum Packet Size of 0");
        connack->maximum_packet_size = w;
        break;
      case property::kMaximumQos:
        if (b > 1) return fail(why, "Maximum QoS other than 0 or 1");
        connack->maximum_qos = b;
        break;
      case property::kRetainAvailable:
        if (b > 1) return fail(why, "Retain Available other than 0 or 1");
        connack->retain_available = b == 1;
        break;
      case property::kServerKeepAlive:
        connack->server_keepalive_s = h;
        break;
      default:
        break;
    }
  }
  return true;
}

// The packet identifier of an ack, SUBACK or PUBLISH: never 0.
bool read_id(Reader& r, std::uint16_t& id, std::string& why) {
  if (!r.u16(id)) return fail(why, "truncated packet identifier");
  if (id == 0) return fail(why, "packet identifier 0");
  return true;
}

}  // namespace

std::size_t Splitter::header(const unsigned char* p, std::size_t size, std::size_t& body) {
  if (size == 0) return 0;
  if ((p[0] >> 4) == 0) {
    error_ = "packet type 0 (reserved)";
    return SIZE_MAX;
  }
  std::size_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    if (1 + i >= size) return 0;
    value |= std::size_t(p[1 + i] & 0x7F) << (7 * i);
    if ((p[1 + i] & 0x80) == 0) {
      if (value > max_) {
        error_ = "a packet of " + std::to_string(value) + " bytes, over the limit of " +
                 std::to_string(max_);
        return SIZE_MAX;
      }
      body = value;
      return 2 + i;
    }
  }
  error_ = "a remaining length longer than 4 bytes";
  return SIZE_MAX;
}

// ---- parsers ----

std::optional<Connack> parse_connack(Version v, std::string_view body, std::string& why) {
  Reader r(body);
  Connack c;
  std::uint8_t flags = 0;
  if (!r.u8(flags) || !r.u8(c.code)) return refuse(why, "truncated CONNACK");
  if ((flags & 0xFE) != 0) return refuse(why, "CONNACK flags with reserved bits set");
  c.session_present = (flags & 1) != 0;
  if (v == Version::V5 && !read_properties(r, &c, why)) return std::nullopt;
  if (!r.empty()) return refuse(why, "bytes after the end of CONNACK");
  return c;
}

std::optional<Ack> parse_ack(Version v, std::string_view body, std::string& why) {
  Reader r(body);
  Ack a;
  if (!read_id(r, a.id, why)) return std::nullopt;
  if (v == Version::V5 && !r.empty()) {
    r.u8(a.reason);
    // Remaining length 3: a reason code without a property length (which is then 0).
    if (!r.empty() && !read_properties(r, nullptr, why)) return std::nullopt;
  }
  if (!r.empty()) return refuse(why, "bytes after the end of an ack");
  return a;
}

std::optional<Suback> parse_suback(Version v, std::string_view body, std::string& why) {
  Reader r(body);
  Suback s;
  if (!read_id(r, s.id, why)) return std::nullopt;
  if (v == Version::V5 && !read_properties(r, nullptr, why)) return std::nullopt;
  if (r.empty()) return refuse(why, "SUBACK without return codes");
  const std::string_view codes = r.rest();
  s.codes.reserve(codes.size());  // bounded by the packet, which the splitter bounded
  for (char ch : codes) {
    const auto code = static_cast<std::uint8_t>(ch);
    if (code > 2 && (v == Version::V5 ? code < 0x80 : code != 0x80)) {
      return refuse(why, "invalid SUBACK return code");
    }
    s.codes.push_back(code);
  }
  return s;
}

std::optional<Publish> parse_publish(Version v, std::uint8_t flags, std::string_view body,
                                     std::string& why) {
  Publish m;
  m.retain = (flags & 0x01) != 0;
  m.qos = (flags >> 1) & 0x03;
  m.dup = (flags & 0x08) != 0;
  if (m.qos == 3) return refuse(why, "PUBLISH with QoS 3");
  Reader r(body);
  if (!r.string(m.topic)) return refuse(why, "truncated topic name");
  // 5.0 allows an empty topic name when a Topic Alias property stands for it.
  if (m.topic.empty() && v != Version::V5) return refuse(why, "empty topic name");
  if (m.qos > 0 && !read_id(r, m.id, why)) return std::nullopt;
  if (v == Version::V5 && !read_properties(r, nullptr, why)) return std::nullopt;
  m.payload = r.rest();
  return m;
}

std::uint8_t parse_disconnect_reason(Version v, std::string_view body) {
  if (v != Version::V5 || body.empty()) return 0;
  return static_cast<std::uint8_t>(body[0]);
}

std::string_view connack_reason(Version v, std::uint8_t code) {
  if (v == Version::V5) return reason_name(code);
  switch (code) {
    case 0:
      return "accepted";
    case 1:
      return "unacceptable protocol version";
    case 2:
      return "identifier rejected";
    case 3:
      return "server unavailable";
    case 4:
      return "bad user name or password";
    case 5:
      return "not authorized";
    default:
      return "reserved return code";
  }
}

std::string_view reason_name(std::uint8_t code) {
  switch (code) {
    case 0x00:
      return "success";
    case 0x01:
      return "granted QoS 1";
    case 0x02:
      return "granted QoS 2";
    case 0x04:
      return "disconnect with will message";
    case 0x10:
      return "no matching subscribers";
    case 0x11:
      return "no subscription existed";
    case 0x18:
      return "continue authentication";
    case 0x19:
      return "re-authenticate";
    case 0x80:
      return "unspecified error";
    case 0x81:
      return "malformed packet";
    case 0x82:
      return "protocol error";
    case 0x83:
      return "implementation specific error";
    case 0x84:
      return "unsupported protocol version";
    case 0x85:
      return "client identifier not valid";
    case 0x86:
      return "bad user name or password";
    case 0x87:
      return "not authorized";
    case 0x88:
      return "server unavailable";
    case 0x89:
      return "server busy";
    case 0x8A:
      return "banned";
    case 0x8B:
      return "server shutting down";
    case 0x8C:
      return "bad authentication method";
    case 0x8D:
      return "keep alive timeout";
    case 0x8E:
      return "session taken over";
    case 0x8F:
      return "topic filter invalid";
    case 0x90:
      return "topic name invalid";
    case 0x91:
      return "packet identifier in use";
    case 0x92:
      return "packet identifier not found";
    case 0x93:
      return "receive maximum exceeded";
    case 0x94:
      return "topic alias invalid";
    case 0x95:
      return "packet too large";
    case 0x96:
      return "message rate too high";
    case 0x97:
      return "quota exceeded";
    case 0x98:
      return "administrative action";
    case 0x99:
      return "payload format invalid";
    case 0x9A:
      return "retain not supported";
    case 0x9B:
      return "QoS not supported";
    case 0x9C:
      return "use another server";
    case 0x9D:
      return "server moved";
    case 0x9E:
      return "shared subscriptions not supported";
    case 0x9F:
      return "connection rate exceeded";
    case 0xA0:
      return "maximum connect time";
    case 0xA1:
      return "subscription identifiers not supported";
    case 0xA2:
      return "wildcard subscriptions not supported";
    default:
      return "unknown reason code";
  }
}

}  // namespace lt::mqtt
