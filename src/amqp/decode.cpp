#include <fmt/format.h>

#include "amqp/codec.hpp"

namespace lt::amqp {

namespace {

// Reads big-endian fields off the front of a method's arguments. A read past the end sets
// `short_` and yields zeros, so a parser reads all its fields and checks once.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : p_(s) {}
  std::uint8_t u8() { return take(1) ? std::uint8_t(at(0)) : 0; }
  std::uint16_t u16() { return std::uint16_t(uint(2)); }
  std::uint32_t u32() { return std::uint32_t(uint(4)); }
  std::uint64_t u64() { return uint(8); }
  std::string_view short_string() { return bytes(u8()); }
  std::string_view long_string() { return bytes(u32()); }
  bool ok(std::string& why, const char* what) const {
    if (short_) why = fmt::format("a {} with its arguments cut short", what);
    return !short_;
  }
  // What a parser returns: `value`, or nullopt when a field was cut short.
  template <typename T>
  std::optional<T> result(T value, std::string& why, const char* what) const {
    if (!ok(why, what)) return std::nullopt;
    return value;
  }

 private:
  unsigned char at(std::size_t i) const { return static_cast<unsigned char>(last_[i]); }
  bool take(std::size_t n) {
    if (short_ || p_.size() < n) {
      short_ = true;
      last_ = {};
      return false;
    }
    last_ = p_.substr(0, n);
    p_.remove_prefix(n);
    return true;
  }
  std::uint64_t uint(std::size_t n) {
    if (!take(n)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = v << 8 | at(i);
    return v;
  }
  std::string_view bytes(std::size_t n) { return take(n) ? last_ : std::string_view{}; }
  std::string_view p_, last_;
  bool short_ = false;
};

}  // namespace

std::size_t FrameReader::check_header(const unsigned char* p, bool first) {
  if (first && std::string_view(reinterpret_cast<const char*>(p), 4) == "AMQP") {
    // "AMQP" 0 0 9 1 is 0-9-1; "AMQP" 1 1 major minor is 0-8 to 0-10 ("AMQP" 1 1 0 10: 0-10);
    // "AMQP" id 1 0 0 is 1.0 (id: 0 plain, 2 TLS, 3 SASL).
    const std::string version = p[4] == 0 && p[5] == 0   ? fmt::format("0-{}-{}", p[6], p[7])
                                : p[4] == 1 && p[5] == 1 ? fmt::format("{}-{}", p[6], p[7])
                                                         : fmt::format("{}.{}", p[5], p[6]);
    error_ = fmt::format(
        "the broker answered with its protocol header (AMQP {}): it does not speak 0-9-1", version);
    return SIZE_MAX;
  }
  const unsigned type = p[0];
  if (type != 1 && type != 2 && type != 3 && type != 8) {
    error_ = fmt::format("an unknown frame type {}", type);
    return SIZE_MAX;
  }
  const std::uint32_t size = std::uint32_t(p[3]) << 24 | std::uint32_t(p[4]) << 16 |
                             std::uint32_t(p[5]) << 8 | std::uint32_t(p[6]);
  if (std::uint64_t(size) + kFrameOverhead > max_) {
    error_ = fmt::format("a frame of {} bytes, over the frame-max of {}",
                         std::uint64_t(size) + kFrameOverhead, max_);
    return SIZE_MAX;
  }
  return size;
}

std::optional<Method> parse_method(std::string_view payload, std::string& why) {
  if (payload.size() < 4) {
    why = "a method frame shorter than its class and method ids";
    return std::nullopt;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
  const std::uint32_t id = std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 |
                           std::uint32_t(p[2]) << 8 | std::uint32_t(p[3]);
  return Method{id, payload.substr(4)};
}

std::optional<Start> parse_start(std::string_view args, std::string& why) {
  Cursor c(args);
  Start s;
  s.major = c.u8();
  s.minor = c.u8();
  c.long_string();  // server properties: a field table the sink has no use for
  s.mechanisms = c.long_string();
  c.long_string();  // locales
  return c.result(s, why, "connection.start");
}

bool has_word(std::string_view list, std::string_view name) {
  while (!list.empty()) {
    const std::size_t space = list.find(' ');
    if (list.substr(0, space) == name) return true;
    if (space == std::string_view::npos) break;
    list.remove_prefix(space + 1);
  }
  return false;
}

std::optional<Tune> parse_tune(std::string_view args, std::string& why) {
  Cursor c(args);
  Tune t;
  t.channel_max = c.u16();
  t.frame_max = c.u32();
  t.heartbeat_s = c.u16();
  if (!c.ok(why, "connection.tune")) return std::nullopt;
  if (t.frame_max != 0 && t.frame_max < kMinFrameMax) {
    why = fmt::format("a frame-max of {}, under the protocol's minimum of {}", t.frame_max,
                      kMinFrameMax);
    return std::nullopt;
  }
  return t;
}

std::optional<Close> parse_close(std::string_view args, std::string& why) {
  Cursor c(args);
  Close cl;
  cl.code = c.u16();
  cl.text = c.short_string();
  cl.failed_method = c.u32();
  return c.result(cl, why, "close");
}

std::optional<Ack> parse_ack(std::string_view args, std::string& why) {
  Cursor c(args);
  Ack a;
  a.tag = c.u64();
  a.multiple = (c.u8() & 1) != 0;
  return c.result(a, why, "basic.ack");
}

std::optional<Return> parse_return(std::string_view args, std::string& why) {
  Cursor c(args);
  Return r;
  r.code = c.u16();
  r.text = c.short_string();
  r.exchange = c.short_string();
  r.routing_key = c.short_string();
  return c.result(r, why, "basic.return");
}

std::optional<Deliver> parse_deliver(std::string_view args, std::string& why) {
  Cursor c(args);
  Deliver d;
  d.consumer_tag = c.short_string();
  d.delivery_tag = c.u64();
  d.redelivered = (c.u8() & 1) != 0;
  d.exchange = c.short_string();
  d.routing_key = c.short_string();
  return c.result(d, why, "basic.deliver");
}

std::optional<std::string_view> parse_blocked(std::string_view args, std::string& why) {
  Cursor c(args);
  const std::string_view reason = c.short_string();
  return c.result(reason, why, "connection.blocked");
}

std::optional<bool> parse_flow(std::string_view args, std::string& why) {
  Cursor c(args);
  const bool active = (c.u8() & 1) != 0;
  return c.result(active, why, "channel.flow");
}

std::optional<ContentHeader> parse_content_header(std::string_view payload, std::string& why) {
  Cursor c(payload);
  ContentHeader h;
  h.class_id = c.u16();
  c.u16();  // weight
  h.body_size = c.u64();
  c.u16();  // property flags; the properties themselves are not needed
  return c.result(h, why, "content header");
}

}  // namespace lt::amqp
