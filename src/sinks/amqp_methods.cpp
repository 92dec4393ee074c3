// The AMQP conversation: the connection handshake, channel set-up, and what the broker sends
// back (confirms, returns, deliveries, blocks, closes). The publishing path is in amqp_sink.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>

#include "sinks/amqp_client.hpp"

namespace lt::amqp_client {
namespace {
std::atomic<bool> g_block_reported{false};
}  // namespace

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

}  // namespace lt::amqp_client
