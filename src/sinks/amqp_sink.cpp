#include "sinks/amqp_sink.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <unordered_set>

#include "amqp/codec.hpp"
#include "core/template.hpp"
#include "sinks/e2e_tracker.hpp"
#include "sinks/outbox.hpp"
#include "sinks/stream_client.hpp"
#include "sinks/wire_header.hpp"

namespace lt {
namespace {

constexpr std::uint16_t kChannel = 1;  // one channel per connection: a device is one stream
// Unwritten bytes a connection may hold before it says Busy: a broker that stops reading (an
// alarm, a stall) pushes messages back into the counted backlog instead of into memory.
constexpr std::size_t kMaxBuffered = 256 * 1024;
// The frame-max we propose (RabbitMQ's default); the broker's lower value wins.
constexpr std::uint32_t kFrameMax = 128 * 1024;

std::atomic<bool> g_block_reported{false};

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
  explicit AmqpSink(SinkContext& c)
      : StreamClient(c, c.device_ids.size() + E2eTracker::subscribers_on(c),
                     sweep_period(c.options)),
        o_(c.options.amqp),
        payload_(c.options.payload),
        state_(conns_.size()),
        e2e_(c.device_ids, c.recorder) {
    std::string why;
    const auto queue = NameTemplate::parse(o_.queue, why);
    const auto key = NameTemplate::parse(o_.key_template(), why);
    std::unordered_set<std::string> seen;
    for (std::uint64_t d : c.device_ids) {
      keys_.push_back(key->expand(d, c.options.rank));
      device_queues_.push_back(queue->expand(d, c.options.rank));
      heads_.push_back(amqp::publish_head(kChannel, o_.exchange, keys_.back(), o_.mandatory,
                                          c.options.persistent, payload_));
      if (seen.insert(device_queues_.back()).second) queues_.push_back(device_queues_.back());
    }
  }

  Offer offer(std::uint32_t local, std::uint64_t seq, Nanos intended, Nanos) override {
    StreamConn& conn = conns_[local];
    AmqpState& s = state_[local];
    if (!conn.ready) return Offer::Down;
    if (s.blocked || s.flow_stopped ||
        (o_.confirm && s.box.pending.size() >= c_.options.inflight) ||
        conn.out.size() - conn.out_at >= kMaxBuffered) {
      s.box.owe_ready = true;
      return Offer::Busy;
    }
    const std::uint64_t base = conn.written - conn.out_at;  // stream offset of out[0]
    conn.out.append(heads_[local]);
    const std::size_t body = amqp::append_body(conn.out, kChannel, payload_, s.frame_max);
    write_body_header(conn.out, body, payload_, c_.device_ids[local], seq, intended);
    s.box.pending.push({intended, -1, conn.stream_end(), base + body, seq,
                        o_.confirm ? s.next_tag++ : 0, false, false});
    mark_dirty(conn);
    return Offer::Taken;
  }

  bool busy() const override {
    // End to end: wait (up to the drain bound) for the consumers to see every sent message.
    return devices_pending(state_) || (has_helpers() && sent_total_ > e2e_.received_total());
  }

  void stop(Nanos now) override {
    stop_all_saying(now,
                    [](std::string& out) { amqp::encode_close(out, 0, 200, "load-tester done"); });
  }

 private:
  static Nanos sweep_period(const Options& o) {
    Nanos p = std::min(o.timeout, o.connect_timeout);
    if (o.amqp.heartbeat > 0) p = std::min(p, o.amqp.heartbeat / 2);
    return p / 8;
  }
  bool consumer(const StreamConn& conn) const { return conn.index >= c_.device_ids.size(); }

  void on_open(StreamConn& conn, Nanos now) override {
    amqp::encode_protocol_header(conn.out);
    send_now(conn, now);
  }

  void before_write(StreamConn& conn, Nanos now) override {
    // Messages not yet begun carry this write's start as their send time, in the bytes that go
    // out (consumers read it) and in the pending entry.
    const std::uint64_t base = conn.written - conn.out_at;
    state_[conn.index].box.stamp(now, [&](const Publish& p) {
      wire_detail::put(reinterpret_cast<unsigned char*>(conn.out.data() + (p.body - base) + 24),
                       now);
    });
  }

  void on_written(StreamConn& conn, Nanos began) override {
    AmqpState& s = state_[conn.index];
    s.last_write = began;
    if (consumer(conn)) return;
    const Nanos done = c_.clock.now();
    s.box.record(conn.written, [&](const Publish& p) {
      c_.recorder.sent(p.intended, p.sent, payload_);
      ++sent_total_;
    });
    // Without confirms a message is complete once the kernel has it, like any fire-and-forget
    // message.
    if (!o_.confirm) {
      s.box.pop_written([&](const Publish& p) { c_.recorder.completed(p.intended, p.sent, done); });
    }
    tell_ready(conn, s.box.owe_ready, began);
  }

  bool on_data(StreamConn& conn, const char* data, std::size_t size, Nanos now) override {
    AmqpState& s = state_[conn.index];
    s.last_read = now;
    const std::uint64_t generation = conn.generation;
    bool open = true;
    const bool ok = s.reader.feed(data, size, [&](const amqp::Frame& f) {
      open = on_frame(conn, s, f, now);
      return open;
    });
    if (!open) return false;
    if (!ok) return malformed(conn, now, s.reader.error());
    send_now(conn, now);  // the replies the frames called for
    if (conn.generation != generation) return false;
    tell_ready(conn, s.box.owe_ready, now);
    return true;
  }

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

  void on_peer_closed(StreamConn& conn, Nanos now) override {
    close(conn, now, Counter::ErrClosed);  // a broker closes with connection.close first
  }

  void on_close(StreamConn& conn, Nanos, bool) override {
    AmqpState& s = state_[conn.index];
    if (!consumer(conn)) {
      // Written but unconfirmed: lost; never wholly written: missed.
      std::uint64_t lost = 0;
      for (std::uint32_t i = 0; i < s.box.recorded; ++i) {
        const Publish& p = s.box.pending[i];
        lost += p.done || p.returned ? 0 : 1;
      }
      c_.recorder.count(Counter::Lost, lost);
      c_.recorder.count(Counter::Missed, s.box.unwritten());
    }
    s.box.clear();
    s.reader.reset();
    s.reader.set_frame_max(kFrameMax);
    s.content = {};
    s.phase = Phase::Greeting;
    s.setup_due = 0;
    s.frame_max = kFrameMax;
    s.next_tag = 1;
    s.heartbeat = 0;
    s.blocked = s.flow_stopped = false;
  }

  void on_sweep(StreamConn& conn, Nanos now) override {
    AmqpState& s = state_[conn.index];
    if (o_.confirm && !consumer(conn) && !s.blocked) {
      for (std::uint32_t i = 0; i < s.box.pending.size(); ++i) {
        const Publish& p = s.box.pending[i];
        if (p.done) continue;
        if (p.sent < 0) break;  // not written yet
        // Unconfirmed past --timeout (a block excepted): the broker is stuck; given up.
        if (now - std::max(p.sent, s.unblocked_at) >= c_.options.timeout) {
          close(conn, now, Counter::ErrTimeout);
          return;
        }
        break;  // only the oldest unconfirmed one matters
      }
    }
    if (s.heartbeat == 0) return;
    if (now - s.last_read >= 2 * s.heartbeat) {
      close(conn, now, Counter::ErrTimeout);  // two heartbeats of silence: the broker is gone
      return;
    }
    if (now - s.last_write >= s.heartbeat / 2) {
      amqp::encode_heartbeat(conn.out);
      s.last_write = now;
      send_now(conn, now);
    }
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

bool AmqpSink::on_frame(StreamConn& conn, AmqpState& s, const amqp::Frame& f, Nanos now) {
  switch (f.type) {
    case amqp::FrameType::Heartbeat:
      if (f.channel != 0) return malformed(conn, now, "a heartbeat on a channel other than 0");
      return true;
    case amqp::FrameType::Header:
    case amqp::FrameType::Body:
      return on_content(conn, s, f, now);
    case amqp::FrameType::Method:
      break;
  }
  std::string why;
  const auto m = amqp::parse_method(f.payload, why);
  if (!m) return malformed(conn, now, why);
  if (s.content.kind != Content::Kind::None)
    return malformed(conn, now, amqp::method_name(m->id) + " inside a message's content");
  if (f.channel == 0) return on_connection_method(conn, s, *m, now);
  if (f.channel != kChannel || s.phase < Phase::Setup)
    return malformed(conn, now,
                     fmt::format("{} on channel {}", amqp::method_name(m->id), f.channel));
  return on_channel_method(conn, s, *m, now);
}

bool AmqpSink::on_connection_method(StreamConn& conn, AmqpState& s, const amqp::Method& m,
                                    Nanos now) {
  namespace method = amqp::method;
  std::string why;
  const auto unexpected = [&] {
    return malformed(conn, now, "an unexpected " + amqp::method_name(m.id));
  };
  switch (m.id) {
    case method::kStart: {
      if (s.phase != Phase::Greeting) return unexpected();
      const auto start = amqp::parse_start(m.args, why);
      if (!start) return malformed(conn, now, why);
      if (start->major != 0 || start->minor != 9)
        return refuse(
            conn, now, "AMQP connect",
            fmt::format("the broker speaks AMQP {}-{}, not 0-9-1", start->major, start->minor));
      if (!amqp::has_word(start->mechanisms, "PLAIN"))
        return refuse(
            conn, now, "AMQP login",
            fmt::format("the broker does not offer PLAIN (it offers \"{}\")", start->mechanisms));
      amqp::encode_start_ok(conn.out, c_.options.auth.username, c_.options.auth.password);
      s.phase = Phase::Tuning;
      return true;
    }
    case method::kSecure:
      return refuse(conn, now, "AMQP login",
                    "the broker sent a SASL challenge (connection.secure); only PLAIN is spoken");
    case method::kTune:
      if (s.phase != Phase::Tuning) return unexpected();
      return on_tune(conn, s, m.args, now);
    case method::kOpenOk:
      if (s.phase != Phase::Opening) return unexpected();
      s.phase = Phase::Setup;
      set_up_channel(conn, s);
      return true;
    case method::kClose:
      return closed_by_broker(conn, m, 0, now);
    case method::kBlocked: {
      const auto reason = amqp::parse_blocked(m.args, why);
      if (!reason) return malformed(conn, now, why);
      if (!s.blocked) c_.recorder.count(Counter::Blocked);
      s.blocked = true;
      if (!g_block_reported.exchange(true))
        fmt::print(stderr,
                   "load-tester: {}:{} blocked publishing (connection.blocked: {}); messages wait "
                   "in the backlog until it unblocks\n",
                   c_.options.hostname, c_.options.port, *reason);
      return true;
    }
    case method::kUnblocked:
      s.blocked = false;
      s.unblocked_at = now;
      return true;
    default:
      return unexpected();
  }
}

bool AmqpSink::on_tune(StreamConn& conn, AmqpState& s, std::string_view args, Nanos now) {
  std::string why;
  const auto tune = amqp::parse_tune(args, why);
  if (!tune) return malformed(conn, now, why);
  s.frame_max = tune->frame_max == 0 ? kFrameMax : std::min(tune->frame_max, kFrameMax);
  // Either side may turn heartbeats off; otherwise the lower interval wins.
  const auto ours = std::uint16_t(o_.heartbeat / kSecond);
  const std::uint16_t hb = ours == 0                ? 0
                           : tune->heartbeat_s == 0 ? ours
                                                    : std::min(ours, tune->heartbeat_s);
  s.heartbeat = Nanos(hb) * kSecond;
  s.reader.set_frame_max(s.frame_max);
  amqp::encode_tune_ok(conn.out, 1, s.frame_max, hb);
  amqp::encode_open(conn.out, o_.vhost);
  s.phase = Phase::Opening;
  return true;
}

void AmqpSink::declare(std::string& out, AmqpState& s, const std::string& queue,
                       const std::string* key) {
  // The predeclared amq.* exchanges (and the default one) cannot be declared again.
  if (!o_.exchange.empty() && o_.exchange.rfind("amq.", 0) != 0) {
    amqp::encode_exchange_declare(out, kChannel, o_.exchange, o_.exchange_type, o_.durable,
                                  o_.auto_delete);
    ++s.setup_due;
  }
  amqp::encode_queue_declare(out, kChannel, queue, o_.durable, o_.auto_delete);
  ++s.setup_due;
  if (key && !o_.exchange.empty()) {
    amqp::encode_queue_bind(out, kChannel, queue, o_.exchange, *key);
    ++s.setup_due;
  }
}

void AmqpSink::set_up_channel(StreamConn& conn, AmqpState& s) {
  // Everything goes out at once: a broker handles a channel's methods in order, so the replies
  // come back in order and the first failure closes the channel with its reason.
  std::string& out = conn.out;
  amqp::encode_channel_open(out, kChannel);
  s.setup_due = 1;
  if (!consumer(conn)) {
    if (o_.confirm) {
      amqp::encode_confirm_select(out, kChannel);
      ++s.setup_due;
    }
    if (o_.declare) declare(out, s, device_queues_[conn.index], &keys_[conn.index]);
    return;
  }
  // Consumer k of K takes the queues i with i % K == k; with fewer queues than consumers, they
  // share them (a queue hands each message to one of its consumers).
  const std::size_t k = conn.index - c_.device_ids.size();
  const std::size_t consumers = conns_.size() - c_.device_ids.size();
  std::size_t n = 0;
  auto consume = [&](const std::string& queue) {
    if (o_.declare) declare(out, s, queue, nullptr);
    // No acknowledgements: the broker sends as fast as we read, and end-to-end latency is not
    // held back by an ack window.
    amqp::encode_consume(out, kChannel, queue, fmt::format("lt-{}-{}", conn.index, n++), true);
    ++s.setup_due;
  };
  if (queues_.size() < consumers) {
    if (!queues_.empty()) consume(queues_[k % queues_.size()]);
  } else {
    for (std::size_t i = k; i < queues_.size(); i += consumers) consume(queues_[i]);
  }
}

bool AmqpSink::on_channel_method(StreamConn& conn, AmqpState& s, const amqp::Method& m, Nanos now) {
  namespace method = amqp::method;
  std::string why;
  switch (m.id) {
    case method::kChannelOpenOk:
    case method::kSelectOk:
    case method::kExchangeDeclareOk:
    case method::kQueueDeclareOk:
    case method::kQueueBindOk:
    case method::kConsumeOk:
      if (s.phase != Phase::Setup || s.setup_due == 0)
        return malformed(conn, now, "an unexpected " + amqp::method_name(m.id));
      if (--s.setup_due == 0) {
        s.phase = Phase::Ready;
        s.last_read = s.last_write = now;
        mark_ready(conn, now);
      }
      return true;
    case method::kAck:
    case method::kNack:
      return on_ack(conn, s, m.args, m.id == method::kNack, now);
    case method::kReturn: {
      const auto r = amqp::parse_return(m.args, why);
      if (!r) return malformed(conn, now, why);
      if (consumer(conn)) return malformed(conn, now, "a basic.return to a consumer");
      c_.recorder.count(Counter::ErrReturned);
      s.content = {};
      s.content.kind = Content::Kind::Return;
      return true;
    }
    case method::kDeliver: {
      const auto d = amqp::parse_deliver(m.args, why);
      if (!d) return malformed(conn, now, why);
      if (!consumer(conn)) return malformed(conn, now, "a basic.deliver to a publisher");
      s.content = {};
      s.content.kind = Content::Kind::Deliver;
      return true;
    }
    case method::kFlow: {
      const auto active = amqp::parse_flow(m.args, why);
      if (!active) return malformed(conn, now, why);
      amqp::encode_flow_ok(conn.out, kChannel, *active);
      s.flow_stopped = !*active;
      return true;
    }
    case method::kChannelClose:
      return closed_by_broker(conn, m, kChannel, now);
    case method::kCancel:
      return refuse(conn, now, "AMQP consume",
                    "the broker cancelled the consumer (basic.cancel: its queue was deleted?)");
    default:
      return malformed(conn, now, "an unexpected " + amqp::method_name(m.id));
  }
}

bool AmqpSink::closed_by_broker(StreamConn& conn, const amqp::Method& m, std::uint16_t channel,
                                Nanos now) {
  std::string why;
  const auto cl = amqp::parse_close(m.args, why);
  if (!cl) return malformed(conn, now, why);
  const std::uint64_t generation = conn.generation;
  amqp::encode_close_ok(conn.out, channel);
  send_now(conn, now);
  if (conn.generation != generation) return false;  // the write failed: closed
  std::string reason = fmt::format("{} {}", cl->code, cl->text);
  if (cl->failed_method != 0) reason += " (on " + amqp::method_name(cl->failed_method) + ")";
  return refuse(conn, now, channel == 0 ? "AMQP connection" : "AMQP channel", reason);
}

bool AmqpSink::on_ack(StreamConn& conn, AmqpState& s, std::string_view args, bool nack, Nanos now) {
  std::string why;
  const auto a = amqp::parse_ack(args, why);
  if (!a) return malformed(conn, now, why);
  if (!o_.confirm || consumer(conn))
    return malformed(conn, now, "a confirm on a channel not in confirm mode");
  // multiple with tag 0: everything outstanding.
  const std::uint64_t upto = a->multiple && a->tag == 0 ? s.next_tag - 1 : a->tag;
  bool found = false;
  for (std::uint32_t i = 0; i < s.box.recorded; ++i) {
    Publish& p = s.box.pending[i];
    if (p.tag > upto) break;
    if (p.done || (!a->multiple && p.tag != upto)) continue;
    p.done = true;
    found = true;
    if (p.returned) continue;  // counted at its basic.return
    if (nack) {
      c_.recorder.count(Counter::ErrRejected);
    } else {
      c_.recorder.completed(p.intended, p.sent, now);
    }
  }
  if (!found && !a->multiple)
    return malformed(conn, now, fmt::format("a confirm of delivery tag {}, never published", upto));
  while (!s.box.pending.empty() && s.box.pending.front().done) s.box.pop();
  return true;
}

bool AmqpSink::on_content(StreamConn& conn, AmqpState& s, const amqp::Frame& f, Nanos now) {
  Content& c = s.content;
  if (f.channel != kChannel || c.kind == Content::Kind::None)
    return malformed(conn, now, "a content frame without a basic.deliver or basic.return");
  std::string why;
  if (f.type == amqp::FrameType::Header) {
    if (c.have_header) return malformed(conn, now, "a second content header");
    const auto h = amqp::parse_content_header(f.payload, why);
    if (!h) return malformed(conn, now, why);
    c.have_header = true;
    c.left = h->body_size;
  } else {
    if (!c.have_header) return malformed(conn, now, "a body frame before its content header");
    if (f.payload.size() > c.left) return malformed(conn, now, "a body longer than announced");
    const std::size_t take = std::min(f.payload.size(), c.head.size() - c.captured);
    std::copy_n(f.payload.data(), take, c.head.data() + c.captured);
    c.captured += take;
    c.left -= f.payload.size();
  }
  if (c.left == 0) content_done(s, now);
  return true;
}

void AmqpSink::content_done(AmqpState& s, Nanos now) {
  const std::string_view head(s.content.head.data(), s.content.captured);
  if (s.content.kind == Content::Kind::Deliver) {
    e2e_.received(head, now);
  } else if (head.size() == kWireHeaderSize) {
    // A returned message of ours: its confirm that follows completes nothing.
    if (const auto h = read_wire_header(reinterpret_cast<const unsigned char*>(head.data())))
      for (std::uint32_t i = 0; i < s.box.recorded; ++i)
        if (Publish& p = s.box.pending[i]; p.seq == h->seq && !p.done) {
          p.returned = true;
          break;
        }
  }
  s.content = {};
}

}  // namespace

std::unique_ptr<Sink> make_amqp_sink(SinkContext& context) {
  return std::make_unique<AmqpSink>(context);
}

}  // namespace lt
