#include "sinks/mqtt_sink.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/template.hpp"
#include "mqtt/codec.hpp"
#include "sinks/e2e_tracker.hpp"
#include "sinks/outbox.hpp"
#include "sinks/stream_client.hpp"
#include "sinks/wire_header.hpp"

namespace lt {
namespace {

// Unwritten bytes a connection may hold before it says Busy: a broker that stops reading pushes
// messages back into the counted backlog instead of into memory.
constexpr std::size_t kMaxBuffered = 256 * 1024;
// Topic filters per SUBSCRIBE packet, so a subscriber of thousands of devices sends packets of
// tens of KiB, not one of megabytes.
constexpr std::size_t kFiltersPerSubscribe = 500;

// A publish the connection has taken: until written (QoS 0) or acknowledged (QoS 1 and 2).
struct Publish {
  Nanos intended;
  Nanos sent;
  std::uint64_t end;  // stream offset just past its last byte
  std::uint16_t id;
  bool released;  // QoS 2: PUBREC came, PUBREL sent, waiting for PUBCOMP
  bool done;      // acknowledged out of order: leaves when it reaches the front
};

struct MqttState {
  explicit MqttState(std::size_t max_packet) : splitter(max_packet) {}
  Outbox<Publish> box;
  std::uint16_t next_id = 1;
  std::uint32_t window = 65535;   // publishes in flight allowed (5.0 receive maximum, --inflight)
  bool connack = false;           // CONNACK accepted
  Nanos keepalive = 0;            // --keepalive, or the broker's Server Keep Alive (5.0)
  Nanos last_write = 0;           // keep-alive: a PINGREQ after half the interval of silence
  Nanos last_read = 0;            // ... in either direction (see on_sweep)
  Nanos ping_since = 0;           // a PINGREQ unanswered since then (0 = none)
  Nanos last_ack = 0;             // the broker's last acknowledgement of a publish
  std::uint32_t subacks_due = 0;  // subscriber: SUBACKs still awaited
  mqtt::Splitter splitter;
};

class MqttSink final : public StreamClient {
 public:
  explicit MqttSink(SinkContext& c)
      : StreamClient(c, c.device_ids.size() + E2eTracker::subscribers_on(c),
                     sweep_period(c.options)),
        o_(c.options.mqtt),
        version_(o_.version == 5 ? mqtt::Version::V5 : mqtt::Version::V311),
        payload_(c.options.payload),
        state_(conns_.size(), MqttState(max_packet(c.options))),
        e2e_(c.device_ids, c.recorder) {
    std::string why;
    const auto topic = NameTemplate::parse(o_.topic, why);
    const auto client_id = NameTemplate::parse(o_.client_id, why);
    heads_.reserve(c.device_ids.size());
    for (std::uint64_t d : c.device_ids) {
      topics_.push_back(topic->expand(d, c.options.rank));
      heads_.push_back(mqtt::publish_head(version_, topics_.back(), o_.qos, o_.retain, payload_));
    }
    for (std::size_t i = 0; i < conns_.size(); ++i)
      client_ids_.push_back(
          i < c.device_ids.size()
              ? client_id->expand(c.device_ids[i], c.options.rank)
              : client_id->expand(c.device_ids.empty() ? 0 : c.device_ids[0], c.options.rank) +
                    fmt::format("-sub{}", i - c.device_ids.size()));
  }

  Offer offer(std::uint32_t local, std::uint64_t seq, Nanos intended, Nanos) override {
    StreamConn& conn = conns_[local];
    MqttState& m = state_[local];
    if (!conn.ready) return Offer::Down;
    if ((o_.qos > 0 && m.box.pending.size() >= m.window) ||
        conn.out.size() - conn.out_at >= kMaxBuffered) {
      m.box.owe_ready = true;
      return Offer::Busy;
    }
    const mqtt::PublishHead& head = heads_[local];
    const std::size_t at = conn.out.size();
    conn.out.append(head.bytes);
    std::uint16_t id = 0;
    if (o_.qos > 0) {
      id = m.next_id;
      m.next_id = m.next_id == 65535 ? 1 : m.next_id + 1;
      conn.out[at + head.id_offset] = char(id >> 8);
      conn.out[at + head.id_offset + 1] = char(id & 0xff);
    }
    const std::size_t body = conn.out.size();
    conn.out.resize(body + payload_);
    write_body_header(conn.out, body, payload_, c_.device_ids[local], seq, intended);
    m.box.pending.push({intended, -1, conn.stream_end(), id, false, false});
    mark_dirty(conn);
    return Offer::Taken;
  }

  bool busy() const override {
    // End to end: wait (up to the drain bound) for the subscribers to see every sent message.
    return devices_pending(state_) || (has_helpers() && sent_total_ > e2e_.received_total());
  }

  void stop(Nanos now) override {
    stop_all_saying(now, [this](std::string& out) { mqtt::encode_disconnect(out, version_); });
  }

 private:
  // Subscribers receive whole publishes: the splitter must take the largest one we send.
  static std::size_t max_packet(const Options& o) {
    return std::max<std::size_t>(1u << 20, o.payload + 65536 + 16);
  }
  static Nanos sweep_period(const Options& o) {
    Nanos p = std::min(o.timeout, o.connect_timeout);
    if (o.mqtt.keepalive > 0) p = std::min(p, o.mqtt.keepalive / 2);
    return p / 8;
  }
  bool subscriber(const StreamConn& conn) const { return conn.index >= c_.device_ids.size(); }

  void on_open(StreamConn& conn, Nanos now) override {
    mqtt::ConnectParams p;
    p.version = version_;
    p.client_id = client_ids_[conn.index];
    // Subscribers always start clean: a kept session would replay messages of earlier runs.
    const bool sub = subscriber(conn);
    p.clean = !c_.options.persistent || sub;
    p.keepalive_s = std::uint16_t(o_.keepalive / kSecond);
    if (!c_.options.auth.username.empty()) p.username = c_.options.auth.username;
    if (!c_.options.auth.password.empty()) p.password = c_.options.auth.password;
    if (c_.options.persistent && !sub && version_ == mqtt::Version::V5) p.session_expiry_s = 3600;
    if (version_ == mqtt::Version::V5)
      // --inflight limits what a device sends; a subscriber takes all the broker will send.
      p.receive_maximum =
          sub ? 65535 : std::uint16_t(std::min<std::uint32_t>(c_.options.inflight, 65535));
    mqtt::encode_connect(conn.out, p);
    send_now(conn, now);
  }

  void before_write(StreamConn& conn, Nanos now) override {
    // Messages not yet begun carry this write's start as their send time, in the bytes that go
    // out (subscribers read it) and in the pending entry.
    const std::uint64_t base = conn.written - conn.out_at;  // stream offset of out[0]
    state_[conn.index].box.stamp(now, [&](const Publish& p) {
      const std::size_t at = std::size_t(p.end - payload_ - base);
      wire_detail::put(reinterpret_cast<unsigned char*>(conn.out.data() + at + 24), now);
    });
  }

  void on_written(StreamConn& conn, Nanos began) override {
    MqttState& m = state_[conn.index];
    m.last_write = began;
    if (subscriber(conn)) return;
    const Nanos done = c_.clock.now();
    m.box.record(conn.written, [&](const Publish& p) {
      c_.recorder.sent(p.intended, p.sent, payload_);
      ++sent_total_;
    });
    // QoS 0 is complete once the kernel has it, like any fire-and-forget message.
    if (o_.qos == 0) {
      m.box.pop_written([&](const Publish& p) { c_.recorder.completed(p.intended, p.sent, done); });
    }
    tell_ready(conn, m.box.owe_ready, began);  // room in the buffer again
  }

  bool on_data(StreamConn& conn, const char* data, std::size_t size, Nanos now) override {
    MqttState& m = state_[conn.index];
    const std::uint64_t generation = conn.generation;
    bool open = true;
    m.last_read = now;
    const bool ok = m.splitter.feed(data, size, [&](const mqtt::Packet& p) {
      open = on_packet(conn, m, p, now);
      return open;
    });
    if (!open) return false;
    if (!ok) return malformed(conn, now, m.splitter.error());
    send_now(conn, now);                              // acks we owe, a SUBSCRIBE after CONNACK
    if (conn.generation != generation) return false;  // the write failed: closed
    tell_ready(conn, m.box.owe_ready, now);
    return true;
  }

  // One packet from the broker; false once the connection was closed.
  bool on_packet(StreamConn& conn, MqttState& m, const mqtt::Packet& p, Nanos now);
  bool on_connack(StreamConn& conn, MqttState& m, std::string_view body, Nanos now);
  bool on_ack(StreamConn& conn, MqttState& m, mqtt::Type type, std::string_view body, Nanos now);
  void on_delivery(StreamConn& conn, const mqtt::Publish& pub, Nanos now);
  void subscribe(StreamConn& conn, MqttState& m);
  bool malformed(StreamConn& conn, Nanos now, std::string_view why) {
    return StreamClient::malformed(conn, now, "MQTT", why);
  }

  void on_peer_closed(StreamConn& conn, Nanos now) override {
    close(conn, now, Counter::ErrClosed);  // a broker never closes a healthy MQTT connection
  }

  void on_close(StreamConn& conn, Nanos, bool) override {
    MqttState& m = state_[conn.index];
    if (!subscriber(conn)) {
      // Written but unacknowledged: lost; never wholly written: missed.
      std::uint64_t lost = 0;
      for (std::uint32_t i = 0; i < m.box.recorded; ++i) lost += m.box.pending[i].done ? 0 : 1;
      c_.recorder.count(Counter::Lost, lost);
      c_.recorder.count(Counter::Missed, m.box.unwritten());
    }
    m.box.clear();
    m.connack = false;
    m.ping_since = 0;
    m.subacks_due = 0;
    m.splitter.reset();
  }

  void on_sweep(StreamConn& conn, Nanos now) override {
    MqttState& m = state_[conn.index];
    if (o_.qos > 0 && !subscriber(conn)) {
      for (std::uint32_t i = 0; i < m.box.pending.size(); ++i) {
        const Publish& p = m.box.pending[i];
        if (p.done) continue;
        // Unacknowledged past --timeout with no acknowledgement meanwhile: the broker is stuck;
        // the connection is given up. A slow broker acknowledges late but steadily: waited for.
        if (p.sent < 0) break;  // not written yet (a backlog offered since the last flush)
        if (now - std::max(p.sent, m.last_ack) >= c_.options.timeout) {
          close(conn, now, Counter::ErrTimeout);
          return;
        }
        break;  // only the oldest unacknowledged one matters
      }
    }
    if (m.keepalive == 0) return;
    if (m.ping_since != 0 && now - m.ping_since >= m.keepalive / 4 &&
        now - std::max(m.ping_since, peer_progress(conn, now)) >= m.keepalive) {
      close(conn, now, Counter::ErrTimeout);  // no PINGRESP within the keep-alive
      return;
    }
    // The spec asks for a PINGREQ only when the client has been quiet, but a QoS 0 publisher
    // never is, and its broker never answers: without a ping when the broker has been quiet
    // too, a vanished broker would go unnoticed until TCP gives up (--peer-timeout).
    if (m.ping_since == 0 && now - std::min(m.last_write, m.last_read) >= m.keepalive / 2) {
      mqtt::encode_pingreq(conn.out);
      mark_progress(conn);
      m.ping_since = now;
      send_now(conn, now);
    }
  }

  const MqttOptions& o_;
  const mqtt::Version version_;
  const std::size_t payload_;
  std::vector<MqttState> state_;
  std::vector<std::string> topics_, client_ids_;
  std::vector<mqtt::PublishHead> heads_;
  E2eTracker e2e_;
  std::uint64_t sent_total_ = 0;
};

bool MqttSink::on_packet(StreamConn& conn, MqttState& m, const mqtt::Packet& p, Nanos now) {
  std::string why;
  if (subscriber(conn))
    if (!m.connack && p.type != mqtt::Type::Connack)
      return malformed(conn, now, "a packet before CONNACK");
  switch (p.type) {
    case mqtt::Type::Connack:
      return on_connack(conn, m, p.body, now);
    case mqtt::Type::Puback:
    case mqtt::Type::Pubrec:
    case mqtt::Type::Pubcomp:
    case mqtt::Type::Pubrel:
      return on_ack(conn, m, p.type, p.body, now);
    case mqtt::Type::Suback: {
      auto s = mqtt::parse_suback(version_, p.body, why);
      if (!s) return malformed(conn, now, why);
      for (std::uint8_t code : s->codes)
        if (code >= 0x80) return refuse(conn, now, "MQTT subscribe", mqtt::reason_name(code));
      if (m.subacks_due > 0 && --m.subacks_due == 0) {
        mark_ready(conn, now);
      }
      return true;
    }
    case mqtt::Type::Publish: {
      auto pub = mqtt::parse_publish(version_, p.flags, p.body, why);
      if (!pub) return malformed(conn, now, why);
      if (pub->qos == 1) mqtt::encode_ack(conn.out, version_, mqtt::Type::Puback, pub->id);
      if (pub->qos == 2) mqtt::encode_ack(conn.out, version_, mqtt::Type::Pubrec, pub->id);
      on_delivery(conn, *pub, now);
      return true;
    }
    case mqtt::Type::Pingresp:
      m.ping_since = 0;
      return true;
    case mqtt::Type::Disconnect: {
      const std::uint8_t reason = mqtt::parse_disconnect_reason(version_, p.body);
      return refuse(conn, now, "MQTT session (broker sent DISCONNECT)", mqtt::reason_name(reason));
    }
    default:
      return malformed(conn, now, fmt::format("unexpected packet type {}", int(p.type)));
  }
}

bool MqttSink::on_connack(StreamConn& conn, MqttState& m, std::string_view body, Nanos now) {
  std::string why;
  auto ack = mqtt::parse_connack(version_, body, why);
  if (!ack) return malformed(conn, now, why);
  if (m.connack) return malformed(conn, now, "a second CONNACK");
  if (ack->code != 0)
    return refuse(conn, now, "MQTT connect", mqtt::connack_reason(version_, ack->code));
  if (o_.qos > ack->maximum_qos)
    return refuse(conn, now, "MQTT connect",
                  fmt::format("the broker allows QoS {} at most", ack->maximum_qos));
  m.connack = true;
  m.window = std::min<std::uint32_t>({ack->receive_maximum, c_.options.inflight, 65535});
  // A 5.0 broker may impose its own keep-alive; it then disconnects clients that keep ours.
  m.keepalive = ack->server_keepalive_s ? Nanos(ack->server_keepalive_s) * kSecond : o_.keepalive;
  m.last_write = m.last_read = now;
  if (subscriber(conn)) {
    subscribe(conn, m);
  } else {
    mark_ready(conn, now);
  }
  return true;
}

void MqttSink::subscribe(StreamConn& conn, MqttState& m) {
  // Subscriber k of S on this worker takes the worker's devices i with i % S == k.
  const std::size_t subs = conns_.size() - c_.device_ids.size();
  const std::size_t k = conn.index - c_.device_ids.size();
  std::vector<std::string> filters;
  std::uint16_t id = 1;
  for (std::size_t i = k; i < topics_.size(); i += subs) {
    filters.push_back(topics_[i]);
    if (filters.size() == kFiltersPerSubscribe || i + subs >= topics_.size()) {
      mqtt::encode_subscribe(conn.out, version_, id++, filters, o_.qos);
      ++m.subacks_due;
      filters.clear();
    }
  }
  // A topic without {device} is one topic for all: subscriber 0 takes it once.
  if (m.subacks_due == 0) {
    mqtt::encode_subscribe(conn.out, version_, id, {topics_.empty() ? "" : topics_[0]}, o_.qos);
    ++m.subacks_due;
  }
}

bool MqttSink::on_ack(StreamConn& conn, MqttState& m, mqtt::Type type, std::string_view body,
                      Nanos now) {
  std::string why;
  auto ack = mqtt::parse_ack(version_, body, why);
  if (!ack) return malformed(conn, now, why);
  if (type == mqtt::Type::Pubrel) {  // subscriber side of QoS 2
    mqtt::encode_ack(conn.out, version_, mqtt::Type::Pubcomp, ack->id);
    return true;
  }
  if (subscriber(conn)) return malformed(conn, now, "an acknowledgement to a subscriber");
  m.last_ack = now;
  if (ack->reason >= 0x80) return refuse(conn, now, "MQTT publish", mqtt::reason_name(ack->reason));
  // Brokers acknowledge in order; a search covers one that does not.
  std::uint32_t i = 0;
  while (i < m.box.recorded && (m.box.pending[i].id != ack->id || m.box.pending[i].done)) ++i;
  if (i == m.box.recorded) {
    // Of a publish from before a reconnect (a kept session resumes its flows): counted lost
    // then, late now. A PUBREC still needs its PUBREL for the broker to finish the flow.
    c_.recorder.count(Counter::LateReplies);
    if (type == mqtt::Type::Pubrec)
      mqtt::encode_ack(conn.out, version_, mqtt::Type::Pubrel, ack->id);
    return true;
  }
  Publish& p = m.box.pending[i];
  const bool final = type == mqtt::Type::Puback    ? o_.qos == 1
                     : type == mqtt::Type::Pubcomp ? o_.qos == 2 && p.released
                                                   : false;
  if (type == mqtt::Type::Pubrec) {
    if (o_.qos != 2 || p.released) return malformed(conn, now, "an unexpected PUBREC");
    p.released = true;
    mqtt::encode_ack(conn.out, version_, mqtt::Type::Pubrel, p.id);
    return true;
  }
  if (!final) return malformed(conn, now, "an acknowledgement that does not match the QoS");
  c_.recorder.completed(p.intended, p.sent, now);
  p.done = true;
  while (!m.box.pending.empty() && m.box.pending.front().done) m.box.pop();
  return true;
}

void MqttSink::on_delivery(StreamConn&, const mqtt::Publish& pub, Nanos now) {
  // A retained message delivered on subscribing is from an earlier run, not this one.
  if (!pub.retain) e2e_.received(pub.payload, now);
}

}  // namespace

std::unique_ptr<Sink> make_mqtt_sink(SinkContext& context) {
  return std::make_unique<MqttSink>(context);
}

}  // namespace lt
