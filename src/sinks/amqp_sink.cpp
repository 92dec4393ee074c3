// The AMQP sink's publishing path: offer, writes, sweeps (confirm timeouts, heartbeats) and
// closes. What the broker says is handled in amqp_methods.cpp.
#include "sinks/amqp_sink.hpp"

#include <algorithm>
#include <unordered_set>

#include "core/template.hpp"
#include "sinks/amqp_client.hpp"

namespace lt {
namespace amqp_client {

AmqpSink::AmqpSink(SinkContext& c)
    : StreamClient(c, c.device_ids.size() + E2eTracker::subscribers_on(c), sweep_period(c.options)),
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

Offer AmqpSink::offer(std::uint32_t local, std::uint64_t seq, Nanos intended, Nanos) {
  StreamConn& conn = conns_[local];
  AmqpState& s = state_[local];
  if (!conn.ready) return Offer::Down;
  if (s.blocked || s.flow_stopped || (o_.confirm && s.box.pending.size() >= c_.options.inflight) ||
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

bool AmqpSink::busy() const {
  // End to end: wait (up to the drain bound) for the consumers to see every sent message.
  return devices_pending(state_) || (has_helpers() && sent_total_ > e2e_.received_total());
}

void AmqpSink::stop(Nanos now) {
  stop_all_saying(now,
                  [](std::string& out) { amqp::encode_close(out, 0, 200, "load-tester done"); });
}

Nanos AmqpSink::sweep_period(const Options& o) {
  Nanos p = std::min(o.timeout, o.connect_timeout);
  if (o.amqp.heartbeat > 0) p = std::min(p, o.amqp.heartbeat / 2);
  return p / 8;
}

void AmqpSink::on_open(StreamConn& conn, Nanos now) {
  amqp::encode_protocol_header(conn.out);
  send_now(conn, now);
}

void AmqpSink::before_write(StreamConn& conn, Nanos now) {
  // Messages not yet begun carry this write's start as their send time, in the bytes that go
  // out (consumers read it) and in the pending entry.
  const std::uint64_t base = conn.written - conn.out_at;
  state_[conn.index].box.stamp(now, [&](const Publish& p) {
    wire_detail::put(reinterpret_cast<unsigned char*>(conn.out.data() + (p.body - base) + 24), now);
  });
}

void AmqpSink::on_written(StreamConn& conn, Nanos began) {
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

bool AmqpSink::on_data(StreamConn& conn, const char* data, std::size_t size, Nanos now) {
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

void AmqpSink::on_peer_closed(StreamConn& conn, Nanos now) {
  close(conn, now, Counter::ErrClosed);  // a broker closes with connection.close first
}

void AmqpSink::on_close(StreamConn& conn, Nanos, bool) {
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

void AmqpSink::on_sweep(StreamConn& conn, Nanos now) {
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

}  // namespace amqp_client

std::unique_ptr<Sink> make_amqp_sink(SinkContext& context) {
  return std::make_unique<amqp_client::AmqpSink>(context);
}

}  // namespace lt
