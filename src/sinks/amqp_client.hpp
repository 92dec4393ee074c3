#pragma once
// The AMQP sink's connection state and class, shared by its two halves: amqp_sink.cpp (the
// publishing path: offer, writes, sweeps, closes) and amqp_methods.cpp (the protocol
// conversation: handshake, channel set-up, confirms, returns, deliveries).
#include <array>
#include <string>
#include <vector>

#include "amqp/codec.hpp"
#include "sinks/e2e_tracker.hpp"
#include "sinks/outbox.hpp"
#include "sinks/stream_client.hpp"
#include "sinks/wire_header.hpp"

namespace lt::amqp_client {

constexpr std::uint16_t kChannel = 1;  // one channel per connection: a device is one stream
// Unwritten bytes a connection may hold before it says Busy: a broker that stops reading (an
// alarm, a stall) pushes messages back into the counted backlog instead of into memory.
constexpr std::size_t kMaxBuffered = 256 * 1024;
// The frame-max we propose (RabbitMQ's default); the broker's lower value wins.
constexpr std::uint32_t kFrameMax = 128 * 1024;

// A publish the connection has taken: until written (--confirm off) or confirmed.
struct Publish {
  Nanos intended;
  Nanos sent;
  std::uint64_t end;   // stream offset just past its last byte
  std::uint64_t body;  // stream offset of its body's first byte (the wire header)
  std::uint64_t seq;
  std::uint64_t tag;  // delivery tag of confirm mode (the channel counts publishes from 1)
  bool done;          // confirmed out of order: leaves when it reaches the front
  bool returned;      // came back unroutable (counted then); its ack completes nothing
};

enum class Phase : std::uint8_t { Greeting, Tuning, Opening, Setup, Ready };

// What follows a basic.deliver or basic.return: a content header, then body frames.
struct Content {
  enum class Kind : std::uint8_t { None, Deliver, Return };
  Kind kind = Kind::None;
  bool have_header = false;
  std::uint64_t left = 0;  // body bytes still to come
  std::size_t captured = 0;
  std::array<char, kWireHeaderSize> head{};  // the body's first bytes: our wire header
};

struct AmqpState {
  Outbox<Publish> box;
  amqp::FrameReader reader{kFrameMax};
  Content content;
  Phase phase = Phase::Greeting;
  std::uint32_t setup_due = 0;  // channel set-up replies still awaited
  std::uint32_t frame_max = kFrameMax;
  std::uint64_t next_tag = 1;
  Nanos heartbeat = 0;
  Nanos last_write = 0, last_read = 0;
  Nanos unblocked_at = 0;     // confirm deadlines count from the end of a block
  bool blocked = false;       // connection.blocked: the broker reads nothing from us
  bool flow_stopped = false;  // channel.flow active=false
};

class AmqpSink final : public StreamClient {
 public:
  explicit AmqpSink(SinkContext& c);

  Offer offer(std::uint32_t local, std::uint64_t seq, Nanos intended, Nanos) override;
  bool busy() const override;
  void stop(Nanos now) override;

 private:
  static Nanos sweep_period(const Options& o);
  bool consumer(const StreamConn& conn) const { return conn.index >= c_.device_ids.size(); }

  void on_open(StreamConn& conn, Nanos now) override;
  void before_write(StreamConn& conn, Nanos now) override;
  void on_written(StreamConn& conn, Nanos began) override;
  bool on_data(StreamConn& conn, const char* data, std::size_t size, Nanos now) override;
  void on_peer_closed(StreamConn& conn, Nanos now) override;
  void on_close(StreamConn& conn, Nanos, bool) override;
  void on_sweep(StreamConn& conn, Nanos now) override;

  bool on_frame(StreamConn& conn, AmqpState& s, const amqp::Frame& f, Nanos now);
  bool on_connection_method(StreamConn& conn, AmqpState& s, const amqp::Method& m, Nanos now);
  bool on_channel_method(StreamConn& conn, AmqpState& s, const amqp::Method& m, Nanos now);
  bool on_tune(StreamConn& conn, AmqpState& s, std::string_view args, Nanos now);
  bool on_ack(StreamConn& conn, AmqpState& s, std::string_view args, bool nack, Nanos now);
  bool on_content(StreamConn& conn, AmqpState& s, const amqp::Frame& f, Nanos now);
  void content_done(AmqpState& s, Nanos now);
  void set_up_channel(StreamConn& conn, AmqpState& s);
  void declare(std::string& out, AmqpState& s, const std::string& queue, const std::string* key);
  // The broker closed the connection or the channel: close-ok first (the broker waits for it),
  // then the reason printed once and a reconnect with backoff.
  bool closed_by_broker(StreamConn& conn, const amqp::Method& m, std::uint16_t channel, Nanos now);
  bool malformed(StreamConn& conn, Nanos now, std::string_view why) {
    return StreamClient::malformed(conn, now, "AMQP", why);
  }

  const AmqpOptions& o_;
  const std::size_t payload_;
  std::vector<AmqpState> state_;
  std::vector<std::string> keys_, device_queues_;
  std::vector<std::string> queues_;  // this worker's devices' queues, each once
  std::vector<std::string> heads_;
  E2eTracker e2e_;
  std::uint64_t sent_total_ = 0;
};

}  // namespace lt::amqp_client
