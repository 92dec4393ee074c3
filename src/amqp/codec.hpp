#pragma once
// AMQP 0-9-1 frames and methods as the AMQP sink needs them: encoders that append to a
// connection's output buffer, and an incremental frame reader plus parsers for what a broker
// sends. Our own codec rather than librabbitmq (rabbitmq-c): its connection owns the socket and
// its login, channel and declare calls are blocking round trips, so 1,000 connections would need
// 1,000 threads or a loop stalled on each; and the sink coalesces many publishes into one write
// per connection and stamps send times into buffered bytes, which a library that frames and
// writes each publish itself cannot do. Only the methods below are spoken. Everything that reads
// broker bytes is bounded and fuzzed: no input may crash it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lt::amqp {

// What a client sends first; a broker that speaks another version answers with its own header
// and closes.
inline constexpr std::string_view kProtocolHeader{"AMQP\0\0\x09\x01", 8};
inline constexpr std::size_t kFrameHeader = 7;    // type, channel, payload size
inline constexpr std::size_t kFrameOverhead = 8;  // header and the frame-end octet
inline constexpr unsigned char kFrameEnd = 0xCE;
inline constexpr std::uint32_t kMinFrameMax = 4096;  // the spec's floor for frame-max

enum class FrameType : std::uint8_t { Method = 1, Header = 2, Body = 3, Heartbeat = 8 };

// Class and method in one number: (class << 16) | method.
constexpr std::uint32_t method_id(std::uint16_t class_id, std::uint16_t method) {
  return std::uint32_t(class_id) << 16 | method;
}
namespace method {
constexpr std::uint32_t kStart = method_id(10, 10), kStartOk = method_id(10, 11),
                        kSecure = method_id(10, 20), kTune = method_id(10, 30),
                        kTuneOk = method_id(10, 31), kOpen = method_id(10, 40),
                        kOpenOk = method_id(10, 41), kClose = method_id(10, 50),
                        kCloseOk = method_id(10, 51), kBlocked = method_id(10, 60),
                        kUnblocked = method_id(10, 61), kChannelOpen = method_id(20, 10),
                        kChannelOpenOk = method_id(20, 11), kFlow = method_id(20, 20),
                        kFlowOk = method_id(20, 21), kChannelClose = method_id(20, 40),
                        kChannelCloseOk = method_id(20, 41), kExchangeDeclare = method_id(40, 10),
                        kExchangeDeclareOk = method_id(40, 11), kQueueDeclare = method_id(50, 10),
                        kQueueDeclareOk = method_id(50, 11), kQueueBind = method_id(50, 20),
                        kQueueBindOk = method_id(50, 21), kQos = method_id(60, 10),
                        kQosOk = method_id(60, 11), kConsume = method_id(60, 20),
                        kConsumeOk = method_id(60, 21), kCancel = method_id(60, 30),
                        kCancelOk = method_id(60, 31), kPublish = method_id(60, 40),
                        kReturn = method_id(60, 50), kDeliver = method_id(60, 60),
                        kAck = method_id(60, 80), kNack = method_id(60, 120),
                        kSelect = method_id(85, 10), kSelectOk = method_id(85, 11);
}  // namespace method
// "connection.close" for a method id, or "method 10.99" for one the sink does not know.
std::string method_name(std::uint32_t id);

// ---- encoders: each appends whole frames to `out` ------------------------------------------

void encode_protocol_header(std::string& out);
// Client properties (product, version, the capabilities we handle: publisher confirms, nacks,
// connection.blocked, consumer cancel notifications, authentication failure close) and SASL
// PLAIN with `user` and `password`.
void encode_start_ok(std::string& out, std::string_view user, std::string_view password);
void encode_tune_ok(std::string& out, std::uint16_t channel_max, std::uint32_t frame_max,
                    std::uint16_t heartbeat_s);
void encode_open(std::string& out, std::string_view vhost);
// connection.close on channel 0, channel.close on any other (code 200 = a normal close).
void encode_close(std::string& out, std::uint16_t channel, std::uint16_t code,
                  std::string_view text);
// connection.close-ok on channel 0, channel.close-ok on any other.
void encode_close_ok(std::string& out, std::uint16_t channel);
void encode_channel_open(std::string& out, std::uint16_t channel);
void encode_flow_ok(std::string& out, std::uint16_t channel, bool active);
void encode_confirm_select(std::string& out, std::uint16_t channel);
void encode_exchange_declare(std::string& out, std::uint16_t channel, std::string_view name,
                             std::string_view type, bool durable, bool auto_delete);
void encode_queue_declare(std::string& out, std::uint16_t channel, std::string_view name,
                          bool durable, bool auto_delete);
void encode_queue_bind(std::string& out, std::uint16_t channel, std::string_view queue,
                       std::string_view exchange, std::string_view routing_key);
void encode_qos(std::string& out, std::uint16_t channel, std::uint16_t prefetch_count);
void encode_consume(std::string& out, std::uint16_t channel, std::string_view queue,
                    std::string_view consumer_tag, bool no_ack);
void encode_heartbeat(std::string& out);

// A short string (exchange, queue, routing key, consumer tag) fits 255 bytes. Returns why not.
std::string check_short_string(std::string_view s);

// The frames of a basic.publish before its body: the method frame and the content header
// (body size and properties: delivery mode 2 when persistent), built once per device.
std::string publish_head(std::uint16_t channel, std::string_view exchange,
                         std::string_view routing_key, bool mandatory, bool persistent,
                         std::uint64_t body_size);
// Appends a body of `size` zero bytes as body frames of at most frame_max bytes each; returns
// the index in `out` of the body's first byte (the first frame holds at least 4,088 of them).
std::size_t append_body(std::string& out, std::uint16_t channel, std::size_t size,
                        std::uint32_t frame_max);
// Bytes append_body adds for a body of `size`.
std::size_t body_frames_size(std::size_t size, std::uint32_t frame_max);

// ---- decoding ------------------------------------------------------------------------------

// One frame; `payload` points into the reader's input or its own buffer and is valid until the
// next feed().
struct Frame {
  FrameType type;
  std::uint16_t channel;
  std::string_view payload;
};

// Splits a byte stream into frames. Only a frame split across reads is copied.
class FrameReader {
 public:
  explicit FrameReader(std::uint32_t frame_max = 128 * 1024) : max_(frame_max) {}
  // The negotiated frame-max (connection.tune-ok); frames larger are refused.
  void set_frame_max(std::uint32_t frame_max) { max_ = frame_max; }
  // Calls on_frame(const Frame&) for each complete frame in order; it returns false to stop
  // (the connection is being closed). Returns false when the stream is not AMQP 0-9-1 frames
  // (a protocol header of another version, an unknown frame type, a frame over frame-max, a
  // missing frame-end octet): see error().
  template <typename Fn>
  bool feed(const char* data, std::size_t size, Fn&& on_frame);
  const std::string& error() const { return error_; }
  void reset() {
    partial_.clear();
    error_.clear();
    started_ = false;
  }

 private:
  // Checks the frame header at p (kFrameOverhead bytes: the header and one more, which every
  // frame has, so that a protocol header's 8 bytes are whole): its payload size, or SIZE_MAX
  // when malformed (error_ set). `first`: the stream's first bytes (a broker's protocol header).
  std::size_t check_header(const unsigned char* p, bool first);
  std::uint32_t max_;
  std::string partial_;
  std::string error_;
  bool started_ = false;
};

// A method frame's payload: its id and its arguments.
struct Method {
  std::uint32_t id;
  std::string_view args;
};
std::optional<Method> parse_method(std::string_view payload, std::string& why);

// The arguments of the methods the sink reads. Each parser returns nullopt with `why` when the
// arguments are short or malformed; string views point into `args`.
struct Start {
  std::uint8_t major = 0, minor = 0;
  std::string_view mechanisms;  // space-separated, e.g. "AMQPLAIN PLAIN"
};
std::optional<Start> parse_start(std::string_view args, std::string& why);
// True when the space-separated list holds `name`.
bool has_word(std::string_view list, std::string_view name);

struct Tune {
  std::uint16_t channel_max = 0;  // 0 = no limit
  std::uint32_t frame_max = 0;    // 0 = no limit
  std::uint16_t heartbeat_s = 0;  // 0 = none
};
std::optional<Tune> parse_tune(std::string_view args, std::string& why);

// connection.close and channel.close.
struct Close {
  std::uint16_t code = 0;
  std::string_view text;
  std::uint32_t failed_method = 0;  // the method that caused it, 0 when none
};
std::optional<Close> parse_close(std::string_view args, std::string& why);

// basic.ack and basic.nack (from a broker in confirm mode).
struct Ack {
  std::uint64_t tag = 0;
  bool multiple = false;
};
std::optional<Ack> parse_ack(std::string_view args, std::string& why);

struct Return {
  std::uint16_t code = 0;  // 312 NO_ROUTE, 313 NO_CONSUMERS
  std::string_view text, exchange, routing_key;
};
std::optional<Return> parse_return(std::string_view args, std::string& why);

struct Deliver {
  std::string_view consumer_tag;
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  std::string_view exchange, routing_key;
};
std::optional<Deliver> parse_deliver(std::string_view args, std::string& why);

// connection.blocked: the reason ("low on memory"); channel.flow: active.
std::optional<std::string_view> parse_blocked(std::string_view args, std::string& why);
std::optional<bool> parse_flow(std::string_view args, std::string& why);

// A content header frame's payload: the class (60, basic) and the body size that follows.
struct ContentHeader {
  std::uint16_t class_id = 0;
  std::uint64_t body_size = 0;
};
std::optional<ContentHeader> parse_content_header(std::string_view payload, std::string& why);

}  // namespace lt::amqp

#include "amqp/reader_impl.hpp"  // the template member, kept out of this overview
