#include <algorithm>

#include "amqp/codec.hpp"

namespace lt::amqp {

namespace {

void put8(std::string& out, std::uint8_t v) {
  out.push_back(char(v));
}
void put16(std::string& out, std::uint16_t v) {
  out.push_back(char(v >> 8));
  out.push_back(char(v & 0xff));
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, std::uint16_t(v >> 16));
  put16(out, std::uint16_t(v & 0xffff));
}
void put64(std::string& out, std::uint64_t v) {
  put32(out, std::uint32_t(v >> 32));
  put32(out, std::uint32_t(v & 0xffffffff));
}
// Callers check lengths first (check_short_string); a longer one is cut, never mis-framed.
void put_short(std::string& out, std::string_view s) {
  s = s.substr(0, 255);
  put8(out, std::uint8_t(s.size()));
  out.append(s);
}
void put_long(std::string& out, std::string_view s) {
  put32(out, std::uint32_t(s.size()));
  out.append(s);
}
void patch32(std::string& out, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + i] = char(v >> (24 - 8 * i));
}

// Opens a frame: returns where its size goes, patched by end_frame().
std::size_t begin_frame(std::string& out, FrameType type, std::uint16_t channel) {
  put8(out, std::uint8_t(type));
  put16(out, channel);
  const std::size_t at = out.size();
  put32(out, 0);
  return at;
}
void end_frame(std::string& out, std::size_t size_at) {
  patch32(out, size_at, std::uint32_t(out.size() - size_at - 4));
  out.push_back(char(kFrameEnd));
}
std::size_t begin_method(std::string& out, std::uint16_t channel, std::uint32_t id) {
  const std::size_t at = begin_frame(out, FrameType::Method, channel);
  put32(out, id);
  return at;
}

// A field table built entry by entry: its size is patched when it ends.
struct Table {
  std::string& out;
  std::size_t size_at;
  explicit Table(std::string& o) : out(o), size_at(o.size()) { put32(out, 0); }
  void text(std::string_view key, std::string_view value) {
    put_short(out, key);
    put8(out, 'S');
    put_long(out, value);
  }
  void flag(std::string_view key, bool value) {
    put_short(out, key);
    put8(out, 't');
    put8(out, value ? 1 : 0);
  }
  void begin_table(std::string_view key) {
    put_short(out, key);
    put8(out, 'F');
  }
  void end() { patch32(out, size_at, std::uint32_t(out.size() - size_at - 4)); }
};

void empty_table(std::string& out) {
  put32(out, 0);
}

}  // namespace

std::string method_name(std::uint32_t id) {
  struct Name {
    std::uint32_t id;
    const char* name;
  };
  static constexpr Name kNames[] = {
      {method::kStart, "connection.start"},
      {method::kStartOk, "connection.start-ok"},
      {method::kSecure, "connection.secure"},
      {method::kTune, "connection.tune"},
      {method::kTuneOk, "connection.tune-ok"},
      {method::kOpen, "connection.open"},
      {method::kOpenOk, "connection.open-ok"},
      {method::kClose, "connection.close"},
      {method::kCloseOk, "connection.close-ok"},
      {method::kBlocked, "connection.blocked"},
      {method::kUnblocked, "connection.unblocked"},
      {method::kChannelOpen, "channel.open"},
      {method::kChannelOpenOk, "channel.open-ok"},
      {method::kFlow, "channel.flow"},
      {method::kFlowOk, "channel.flow-ok"},
      {method::kChannelClose, "channel.close"},
      {method::kChannelCloseOk, "channel.close-ok"},
      {method::kExchangeDeclare, "exchange.declare"},
      {method::kExchangeDeclareOk, "exchange.declare-ok"},
      {method::kQueueDeclare, "queue.declare"},
      {method::kQueueDeclareOk, "queue.declare-ok"},
      {method::kQueueBind, "queue.bind"},
      {method::kQueueBindOk, "queue.bind-ok"},
      {method::kQos, "basic.qos"},
      {method::kQosOk, "basic.qos-ok"},
      {method::kConsume, "basic.consume"},
      {method::kConsumeOk, "basic.consume-ok"},
      {method::kCancel, "basic.cancel"},
      {method::kCancelOk, "basic.cancel-ok"},
      {method::kPublish, "basic.publish"},
      {method::kReturn, "basic.return"},
      {method::kDeliver, "basic.deliver"},
      {method::kAck, "basic.ack"},
      {method::kNack, "basic.nack"},
      {method::kSelect, "confirm.select"},
      {method::kSelectOk, "confirm.select-ok"},
  };
  for (const Name& n : kNames)
    if (n.id == id) return n.name;
  return "method " + std::to_string(id >> 16) + "." + std::to_string(id & 0xffff);
}

void encode_protocol_header(std::string& out) {
  out.append(kProtocolHeader);
}

void encode_start_ok(std::string& out, std::string_view user, std::string_view password) {
  const std::size_t at = begin_method(out, 0, method::kStartOk);
  Table props(out);
  props.text("product", "load-tester");
  props.text("version", LT_VERSION);
  props.text("platform", "C++20");
  props.begin_table("capabilities");
  Table caps(out);
  caps.flag("publisher_confirms", true);
  caps.flag("basic.nack", true);
  caps.flag("connection.blocked", true);
  caps.flag("consumer_cancel_notify", true);
  caps.flag("authentication_failure_close", true);
  caps.end();
  props.end();
  put_short(out, "PLAIN");
  std::string response;
  response.reserve(user.size() + password.size() + 2);
  response.push_back('\0');
  response.append(user);
  response.push_back('\0');
  response.append(password);
  put_long(out, response);
  put_short(out, "en_US");
  end_frame(out, at);
}

void encode_tune_ok(std::string& out, std::uint16_t channel_max, std::uint32_t frame_max,
                    std::uint16_t heartbeat_s) {
  const std::size_t at = begin_method(out, 0, method::kTuneOk);
  put16(out, channel_max);
  put32(out, frame_max);
  put16(out, heartbeat_s);
  end_frame(out, at);
}

void encode_open(std::string& out, std::string_view vhost) {
  const std::size_t at = begin_method(out, 0, method::kOpen);
  put_short(out, vhost);
  put_short(out, "");  // reserved (capabilities)
  put8(out, 0);        // reserved (insist)
  end_frame(out, at);
}

void encode_close(std::string& out, std::uint16_t channel, std::uint16_t code,
                  std::string_view text) {
  const std::size_t at =
      begin_method(out, channel, channel == 0 ? method::kClose : method::kChannelClose);
  put16(out, code);
  put_short(out, text);
  put32(out, 0);  // no failing class and method
  end_frame(out, at);
}

void encode_close_ok(std::string& out, std::uint16_t channel) {
  const std::size_t at =
      begin_method(out, channel, channel == 0 ? method::kCloseOk : method::kChannelCloseOk);
  end_frame(out, at);
}

void encode_channel_open(std::string& out, std::uint16_t channel) {
  const std::size_t at = begin_method(out, channel, method::kChannelOpen);
  put_short(out, "");  // reserved
  end_frame(out, at);
}

void encode_flow_ok(std::string& out, std::uint16_t channel, bool active) {
  const std::size_t at = begin_method(out, channel, method::kFlowOk);
  put8(out, active ? 1 : 0);
  end_frame(out, at);
}

void encode_confirm_select(std::string& out, std::uint16_t channel) {
  const std::size_t at = begin_method(out, channel, method::kSelect);
  put8(out, 0);  // nowait off: the select-ok tells the channel is in confirm mode
  end_frame(out, at);
}

void encode_exchange_declare(std::string& out, std::uint16_t channel, std::string_view name,
                             std::string_view type, bool durable, bool auto_delete) {
  const std::size_t at = begin_method(out, channel, method::kExchangeDeclare);
  put16(out, 0);  // reserved (ticket)
  put_short(out, name);
  put_short(out, type);
  put8(out, std::uint8_t((durable ? 2 : 0) | (auto_delete ? 4 : 0)));  // passive, internal off
  empty_table(out);
  end_frame(out, at);
}

void encode_queue_declare(std::string& out, std::uint16_t channel, std::string_view name,
                          bool durable, bool auto_delete) {
  const std::size_t at = begin_method(out, channel, method::kQueueDeclare);
  put16(out, 0);
  put_short(out, name);
  put8(out, std::uint8_t((durable ? 2 : 0) | (auto_delete ? 8 : 0)));  // not exclusive
  empty_table(out);
  end_frame(out, at);
}

void encode_queue_bind(std::string& out, std::uint16_t channel, std::string_view queue,
                       std::string_view exchange, std::string_view routing_key) {
  const std::size_t at = begin_method(out, channel, method::kQueueBind);
  put16(out, 0);
  put_short(out, queue);
  put_short(out, exchange);
  put_short(out, routing_key);
  put8(out, 0);
  empty_table(out);
  end_frame(out, at);
}

void encode_qos(std::string& out, std::uint16_t channel, std::uint16_t prefetch_count) {
  const std::size_t at = begin_method(out, channel, method::kQos);
  put32(out, 0);  // no byte limit
  put16(out, prefetch_count);
  put8(out, 0);
  end_frame(out, at);
}

void encode_consume(std::string& out, std::uint16_t channel, std::string_view queue,
                    std::string_view consumer_tag, bool no_ack) {
  const std::size_t at = begin_method(out, channel, method::kConsume);
  put16(out, 0);
  put_short(out, queue);
  put_short(out, consumer_tag);
  put8(out, no_ack ? 2 : 0);  // no-local, exclusive, nowait off
  empty_table(out);
  end_frame(out, at);
}

void encode_heartbeat(std::string& out) {
  const std::size_t at = begin_frame(out, FrameType::Heartbeat, 0);
  end_frame(out, at);
}

std::string check_short_string(std::string_view s) {
  if (s.size() > 255) return "expected at most 255 bytes";
  return "";
}

std::string publish_head(std::uint16_t channel, std::string_view exchange,
                         std::string_view routing_key, bool mandatory, bool persistent,
                         std::uint64_t body_size) {
  std::string out;
  std::size_t at = begin_method(out, channel, method::kPublish);
  put16(out, 0);
  put_short(out, exchange);
  put_short(out, routing_key);
  put8(out, mandatory ? 1 : 0);  // immediate off: RabbitMQ refuses it
  end_frame(out, at);
  at = begin_frame(out, FrameType::Header, channel);
  put16(out, 60);  // class basic
  put16(out, 0);   // weight
  put64(out, body_size);
  if (persistent) {
    put16(out, 0x1000);  // property flags: delivery-mode only
    put8(out, 2);
  } else {
    put16(out, 0);
  }
  end_frame(out, at);
  return out;
}

std::size_t append_body(std::string& out, std::uint16_t channel, std::size_t size,
                        std::uint32_t frame_max) {
  const std::size_t chunk = std::max<std::uint32_t>(frame_max, kMinFrameMax) - kFrameOverhead;
  const std::size_t first = out.size() + kFrameHeader;
  out.reserve(out.size() + body_frames_size(size, frame_max));
  for (std::size_t done = 0; done < size;) {
    const std::size_t n = std::min(chunk, size - done);
    const std::size_t at = begin_frame(out, FrameType::Body, channel);
    out.append(n, '\0');
    end_frame(out, at);
    done += n;
  }
  return first;
}

std::size_t body_frames_size(std::size_t size, std::uint32_t frame_max) {
  const std::size_t chunk = std::max<std::uint32_t>(frame_max, kMinFrameMax) - kFrameOverhead;
  return size + (size + chunk - 1) / chunk * kFrameOverhead;
}

}  // namespace lt::amqp
