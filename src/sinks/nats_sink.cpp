#include "sinks/nats_sink.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <random>

#include "core/template.hpp"
#include "nats/codec.hpp"
#include "sinks/e2e_tracker.hpp"
#include "sinks/outbox.hpp"
#include "sinks/ring.hpp"
#include "sinks/stream_client.hpp"
#include "sinks/wire_header.hpp"

namespace lt {
namespace {

// Unwritten bytes a connection may hold before it says Busy: a server that stops reading pushes
// messages back into the counted backlog instead of into memory.
constexpr std::size_t kMaxBuffered = 256 * 1024;
// A PING unanswered this long means a stalled server (or one that lost us) at the latest; a
// subscriber's PONG queues behind the messages the server still has to write to it, and a
// server busy with thousands of TLS handshakes answers late but is alive.
constexpr Nanos kMinPingDeadline = 5 * kSecond;
// Replies a responder may queue (a server delivering requests but not reading replies).
constexpr std::size_t kMaxResponderBuffer = 4 << 20;
// The queue group of the responders: each request is answered once, whichever worker has it.
constexpr std::string_view kResponderQueue = "load-tester";

// A message the connection has taken: until written (pub, e2e) or answered (request).
struct Pending {
  Nanos intended;
  Nanos sent;
  std::uint64_t end;  // stream offset just past its last byte
  std::uint64_t seq;  // request: the token of its reply subject
  bool done;          // answered out of order: leaves when it reaches the front
};

struct Ping {
  std::uint64_t covers;  // publishes appended before it: the PONG confirms them
  Nanos since;
};

struct NatsState {
  explicit NatsState(std::size_t max_payload) : reader(max_payload) {}
  Outbox<Pending> box;
  std::uint64_t appended = 0;   // publishes appended since the connection opened
  std::uint64_t confirmed = 0;  // of them covered by a PONG
  std::uint64_t rejected = 0;   // -ERR refusals not yet set against a PONG (pub) or a request
  Ring<Ping> pings;
  Nanos last_ping = 0;
  bool info = false;  // INFO accepted, CONNECT sent after it (and after TLS)
  nats::Info server;
  nats::Reader reader;
};

enum class Role : std::uint8_t { Device, Subscriber, Responder };

class NatsSink final : public StreamClient {
 public:
  explicit NatsSink(SinkContext& c)
      : StreamClient(c, c.device_ids.size() + subscribers_on(c) + responders_on(c),
                     sweep_period(c.options)),
        o_(c.options.nats),
        payload_(c.options.payload),
        subscribers_(subscribers_on(c)),
        responders_(responders_on(c)),
        state_(conns_.size(), NatsState(max_payload(c.options))),
        e2e_(c.device_ids, c.recorder),
        ping_deadline_(std::max({c.options.timeout, 2 * o_.ping_interval, kMinPingDeadline})) {
    std::string why;
    const auto subject = NameTemplate::parse(o_.subject, why);
    const std::string headers = o_.headers.empty() ? "" : nats::header_block(o_.headers);
    header_bytes_ = headers.size();
    std::random_device rd;
    const std::string inbox = fmt::format("_INBOX.lt{:08x}{:08x}.", rd(), rd());
    for (std::uint64_t d : c.device_ids) {
      subjects_.push_back(subject->expand(d, c.options.rank));
      if (o_.mode == NatsMode::Request) {
        inboxes_.push_back(fmt::format("{}{}.", inbox, d));
        heads_.push_back(headers);  // the header block alone: the head is built per request
      } else {
        heads_.push_back(nats::publish_head(subjects_.back(), "", headers, payload_));
      }
    }
  }

  Offer offer(std::uint32_t local, std::uint64_t seq, Nanos intended, Nanos) override {
    StreamConn& conn = conns_[local];
    NatsState& s = state_[local];
    if (!conn.ready) return Offer::Down;
    const bool request = o_.mode == NatsMode::Request;
    if ((request && s.box.pending.size() >= c_.options.inflight) ||
        conn.out.size() - conn.out_at >= kMaxBuffered) {
      s.box.owe_ready = true;
      return Offer::Busy;
    }
    if (request) {
      nats::append_request_head(conn.out, subjects_[local], inboxes_[local], seq, heads_[local],
                                payload_);
    } else {
      conn.out.append(heads_[local]);
    }
    const std::size_t body = conn.out.size();
    conn.out.resize(body + payload_);
    write_body_header(conn.out, body, payload_, c_.device_ids[local], seq, intended);
    conn.out.append("\r\n");
    s.box.pending.push({intended, -1, conn.stream_end(), seq, false});
    ++s.appended;
    mark_dirty(conn);
    return Offer::Taken;
  }

  void finish(Nanos now) override {
    // One more PING behind the last publish: its PONG confirms everything sent. A backlog the
    // worker still offers during the drain gets its own PING (on_pong, on_sweep).
    finishing_ = true;
    if (o_.mode == NatsMode::Request) return;
    for (std::size_t i = 0; i < c_.device_ids.size(); ++i)
      if (conns_[i].ready && state_[i].confirmed < state_[i].appended) ping(conns_[i], now);
  }

  bool busy() const override {
    for (std::size_t i = 0; i < c_.device_ids.size(); ++i) {
      const NatsState& s = state_[i];
      if (!conns_[i].ready) continue;
      if (o_.mode == NatsMode::Request ? !s.box.pending.empty() : s.confirmed < s.appended)
        return true;
    }
    // End to end: wait (up to the drain bound) for the subscribers to see every sent message.
    return subscribers_ > 0 && sent_total_ > e2e_.received_total();
  }

  void stop(Nanos now) override { stop_all(now); }

 private:
  static std::size_t subscribers_on(const SinkContext& c) {
    return c.options.nats.mode == NatsMode::E2e ? E2eTracker::subscribers_on(c) : 0;
  }
  static std::size_t responders_on(const SinkContext& c) {
    return share_of_worker(c.options.nats.responders, c.workers, c.device_ids.size());
  }
  // Subscribers and responders read whole messages: the reader must take the largest we send.
  static std::size_t max_payload(const Options& o) {
    return std::max<std::size_t>(8u << 20, o.payload + 65536);
  }
  static Nanos sweep_period(const Options& o) {
    return std::min({o.timeout / 8, o.connect_timeout / 8, o.nats.ping_interval / 2});
  }
  Role role(const StreamConn& conn) const {
    if (conn.index < c_.device_ids.size()) return Role::Device;
    return conn.index < c_.device_ids.size() + subscribers_ ? Role::Subscriber : Role::Responder;
  }

  void ping(StreamConn& conn, Nanos now) {
    NatsState& s = state_[conn.index];
    nats::encode_ping(conn.out);
    if (s.pings.empty()) mark_progress(conn);
    s.pings.push({s.appended, now});
    s.last_ping = now;
    send_now(conn, now);
  }

  void on_open(StreamConn& conn, Nanos now) override {
    // The server speaks first (INFO). After a TLS upgrade, INFO is already in hand.
    if (conn.tls && state_[conn.index].info) send_connect(conn, now);
  }
  bool tls_first() const override { return false; }

  void before_write(StreamConn& conn, Nanos now) override {
    // Messages not yet begun carry this write's start as their send time, in the bytes that go
    // out (subscribers and responders read it) and in the pending entry.
    const std::uint64_t base = conn.written - conn.out_at;  // stream offset of out[0]
    state_[conn.index].box.stamp(now, [&](const Pending& p) {
      const std::size_t at = std::size_t(p.end - 2 - payload_ - base);
      wire_detail::put(reinterpret_cast<unsigned char*>(conn.out.data() + at + 24), now);
    });
  }

  void on_written(StreamConn& conn, Nanos began) override {
    if (role(conn) != Role::Device) return;
    NatsState& s = state_[conn.index];
    const Nanos done = c_.clock.now();
    s.box.record(conn.written, [&](const Pending& p) {
      c_.recorder.sent(p.intended, p.sent, payload_);
      ++sent_total_;
    });
    // A publish is measured once the kernel has it and counted complete at its PONG.
    if (o_.mode != NatsMode::Request) {
      s.box.pop_written([&](const Pending& p) { c_.recorder.measured(p.intended, p.sent, done); });
    }
    tell_ready(conn, s.box.owe_ready, began);  // room in the buffer again
  }

  bool on_data(StreamConn& conn, const char* data, std::size_t size, Nanos now) override {
    NatsState& s = state_[conn.index];
    bool go_on = true;
    const std::uint64_t generation = conn.generation;
    const bool ok = s.reader.feed(data, size, [&](const nats::Message& m) {
      go_on = on_message(conn, s, m, now) && conn.generation == generation &&
              conn.state == StreamConn::State::Open;
      return go_on;
    });
    if (!go_on) {
      // A TLS handshake began after INFO (a close has reset the reader already): the reader
      // may still hold INFO's bytes, which must not be delivered again.
      if (conn.generation == generation) s.reader.reset();
      return false;
    }
    if (!ok) return malformed(conn, now, s.reader.error());
    send_now(conn, now);  // PONGs and replies we owe; a failed write closes the connection
    if (conn.generation != generation) return false;
    tell_ready(conn, s.box.owe_ready, now);
    return true;
  }

  bool on_message(StreamConn& conn, NatsState& s, const nats::Message& m, Nanos now);
  bool on_info(StreamConn& conn, NatsState& s, std::string_view json, Nanos now);
  bool on_pong(StreamConn& conn, NatsState& s, Nanos now);
  bool on_err(StreamConn& conn, NatsState& s, std::string_view text, Nanos now);
  bool on_reply(StreamConn& conn, NatsState& s, const nats::Message& m, Nanos now);
  void send_connect(StreamConn& conn, Nanos now);
  void subscribe(StreamConn& conn, Role role);
  bool refuse(StreamConn& conn, Nanos now, std::string_view why) {
    return StreamClient::refuse(conn, now, "NATS session", why);
  }
  bool malformed(StreamConn& conn, Nanos now, std::string_view why) {
    return StreamClient::malformed(conn, now, "NATS", why);
  }

  void on_peer_closed(StreamConn& conn, Nanos now) override {
    close(conn, now, Counter::ErrClosed);  // a server closes a healthy connection only on -ERR
  }

  void on_close(StreamConn& conn, Nanos, bool) override {
    NatsState& s = state_[conn.index];
    if (role(conn) == Role::Device) {
      if (o_.mode == NatsMode::Request) {
        // Written but unanswered: lost; never wholly written: missed.
        std::uint64_t lost = 0;
        for (std::uint32_t i = 0; i < s.box.recorded; ++i) lost += s.box.pending[i].done ? 0 : 1;
        c_.recorder.count(Counter::Lost, lost - std::min(lost, s.rejected));
      } else {
        // Written but never confirmed by a PONG: the server may not have read them.
        const std::uint64_t written = s.appended - s.box.pending.size();
        const std::uint64_t unconfirmed = written - std::min(written, s.confirmed);
        c_.recorder.count(Counter::Lost, unconfirmed - std::min(unconfirmed, s.rejected));
      }
      c_.recorder.count(Counter::Missed, s.box.unwritten());
    }
    s.box.clear();
    s.pings.clear();
    s.appended = s.confirmed = s.rejected = 0;
    s.info = false;
    s.reader.reset();
  }

  void on_sweep(StreamConn& conn, Nanos now) override {
    NatsState& s = state_[conn.index];
    if (!s.pings.empty() && now - s.pings.front().since >= ping_deadline_ / 4) {
      const Nanos asked = s.pings.front().since;
      if (now - std::max(asked, peer_progress(conn, now)) >= ping_deadline_) {
        print_first_error("NATS session", "a PING went unanswered: the server stalled");
        close(conn, now, Counter::ErrTimeout);
        return;
      }
    }
    if (role(conn) == Role::Device && o_.mode == NatsMode::Request) expire(conn, s, now);
    if (s.pings.empty() &&
        (now - s.last_ping >= o_.ping_interval || (finishing_ && s.confirmed < s.appended)))
      ping(conn, now);
  }

  // Requests unanswered past --timeout are lost; the connection stays (a responder may be slow
  // or gone, the server is fine: its PONGs say so).
  void expire(StreamConn& conn, NatsState& s, Nanos now) {
    bool freed = false;
    while (s.box.recorded > 0 &&
           (s.box.pending.front().done || now - s.box.pending.front().sent >= c_.options.timeout)) {
      // A request the server refused (-ERR) was counted rejected: it is not lost as well.
      if (!s.box.pending.front().done) {
        if (s.rejected > 0) {
          --s.rejected;
        } else {
          c_.recorder.count(Counter::Lost);
        }
      }
      s.box.pop();
      freed = true;
    }
    if (freed) tell_ready(conn, s.box.owe_ready, now);
  }

  const NatsOptions& o_;
  const std::size_t payload_;
  const std::size_t subscribers_, responders_;
  std::vector<NatsState> state_;
  std::vector<std::string> subjects_, inboxes_, heads_;
  E2eTracker e2e_;
  const Nanos ping_deadline_;
  std::size_t header_bytes_ = 0;
  std::uint64_t sent_total_ = 0;
  bool finishing_ = false;  // finish() was called: the drain waits for every confirmation
};

bool NatsSink::on_message(StreamConn& conn, NatsState& s, const nats::Message& m, Nanos now) {
  if (!s.info && m.op != nats::Op::Info) return malformed(conn, now, "a message before INFO");
  switch (m.op) {
    case nats::Op::Info:
      return on_info(conn, s, m.text, now);
    case nats::Op::Ping:
      nats::encode_pong(conn.out);
      return true;
    case nats::Op::Pong:
      return on_pong(conn, s, now);
    case nats::Op::Ok:
      return true;  // verbose is off; a server may still acknowledge
    case nats::Op::Err:
      return on_err(conn, s, m.text, now);
    case nats::Op::Msg:
      break;
  }
  switch (role(conn)) {
    case Role::Subscriber:
      e2e_.received(m.payload, now);
      return true;
    case Role::Responder:
      // Echo the request's payload (with its timestamps), as a test service would.
      if (!m.reply.empty() && conn.out.size() - conn.out_at < kMaxResponderBuffer) {
        conn.out.append(nats::publish_head(m.reply, "", "", m.payload.size()));
        conn.out.append(m.payload);
        conn.out.append("\r\n");
      }
      return true;
    case Role::Device:
      if (o_.mode != NatsMode::Request) return malformed(conn, now, "a message to a publisher");
      return on_reply(conn, s, m, now);
  }
  return true;
}

bool NatsSink::on_info(StreamConn& conn, NatsState& s, std::string_view json, Nanos now) {
  if (s.info) return true;  // a later INFO announces cluster changes: nothing for us
  std::string why;
  auto info = nats::parse_info(json, why);
  if (!info) return malformed(conn, now, "INFO: " + why);
  const bool tls = c_.options.tls.enabled;
  if (tls && !info->tls_required && !info->tls_available)
    return refuse(conn, now, "the server does not offer TLS (use a nats:// URL)");
  if (!tls && info->tls_required)
    return refuse(conn, now, "the server requires TLS (use a tls:// URL or --tls)");
  // The server's limit covers the header block too.
  if (info->max_payload > 0 && payload_ + header_bytes_ > std::uint64_t(info->max_payload))
    return refuse(
        conn, now,
        fmt::format(
            "--payload {}{} exceeds the server's max_payload of {} bytes", payload_,
            header_bytes_ ? fmt::format(" with {} header bytes", header_bytes_) : std::string(),
            info->max_payload));
  if (!o_.headers.empty() && !info->headers)
    return refuse(conn, now, "the server does not support headers (-H)");
  s.server = std::move(*info);
  s.info = true;
  if (!tls) {
    send_connect(conn, now);
    return true;
  }
  start_tls(conn, now);  // on_open() sends CONNECT once the handshake is done
  return false;
}

void NatsSink::send_connect(StreamConn& conn, Nanos now) {
  NatsState& s = state_[conn.index];
  const Credentials& a = c_.options.auth;
  nats::ConnectParams p;
  p.name = fmt::format("load-tester-{}", conn.device);
  p.user = a.username;
  p.pass = a.password;
  p.token = a.token;
  p.tls_required = c_.options.tls.enabled;
  p.headers = s.server.headers;
  p.no_responders = s.server.headers;
  nats::encode_connect(conn.out, p);
  const Role r = role(conn);
  if (r != Role::Device || o_.mode == NatsMode::Request) subscribe(conn, r);
  // Its PONG says CONNECT and the subscriptions were accepted (an error comes before it).
  ping(conn, now);
}

void NatsSink::subscribe(StreamConn& conn, Role r) {
  if (r == Role::Device) {
    nats::encode_sub(conn.out, inboxes_[conn.index] + "*", "", 1);
    return;
  }
  // Helper k of n on this worker takes the worker's devices i with i % n == k; a subject
  // without {device} is one subject for all, taken once.
  const std::size_t first =
      r == Role::Subscriber ? c_.device_ids.size() : c_.device_ids.size() + subscribers_;
  const std::size_t n = r == Role::Subscriber ? subscribers_ : responders_;
  const std::string_view queue = r == Role::Responder ? kResponderQueue : "";
  const bool shared = subjects_.size() > 1 && subjects_[0] == subjects_[1];
  for (std::size_t i = conn.index - first; i < subjects_.size(); i += n) {
    nats::encode_sub(conn.out, subjects_[i], queue, i + 1);
    if (shared) break;
  }
}

bool NatsSink::on_pong(StreamConn& conn, NatsState& s, Nanos now) {
  if (s.pings.empty()) return malformed(conn, now, "a PONG without a PING");
  const Ping p = s.pings.front();
  s.pings.pop();
  if (!conn.ready) {
    mark_ready(conn, now);
    return true;
  }
  if (role(conn) == Role::Device && o_.mode != NatsMode::Request && p.covers > s.confirmed) {
    const std::uint64_t newly = p.covers - s.confirmed;
    const std::uint64_t rejected = std::min(newly, s.rejected);
    c_.recorder.count(Counter::Completed, newly - rejected);
    s.rejected -= rejected;
    s.confirmed = p.covers;
    if (finishing_ && s.pings.empty() && s.confirmed < s.appended) ping(conn, now);
  }
  return true;
}

bool NatsSink::on_err(StreamConn& conn, NatsState& s, std::string_view text, Nanos now) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return char(std::tolower(ch)); });
  // A device's publish refused: the server keeps the connection and drops that one message.
  // Anything else closes it: every other -ERR ends the connection on the server's side too,
  // and a refused subscription, or a helper's refused reply, leaves a connection that cannot
  // do its job.
  const bool publish = lower.starts_with("permissions violation for publish") ||
                       lower.starts_with("invalid publish subject");
  if (publish && role(conn) == Role::Device) {
    print_first_error("NATS publish", std::string(text));
    c_.recorder.count(Counter::ErrRejected);
    ++s.rejected;
    return true;
  }
  return refuse(conn, now, fmt::format("-ERR '{}'", text));
}

bool NatsSink::on_reply(StreamConn& conn, NatsState& s, const nats::Message& m, Nanos now) {
  const std::string& inbox = inboxes_[conn.index];
  std::uint64_t token = 0;
  const std::string_view rest =
      m.subject.starts_with(inbox) ? m.subject.substr(inbox.size()) : std::string_view();
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), token);
  if (rest.empty() || ec != std::errc() || end != rest.data() + rest.size())
    return malformed(conn, now, fmt::format("a reply to \"{}\"", m.subject));
  // Replies come in order from one responder; a search covers several.
  std::uint32_t i = 0;
  while (i < s.box.recorded && (s.box.pending[i].seq != token || s.box.pending[i].done)) ++i;
  if (i == s.box.recorded) {
    c_.recorder.count(Counter::LateReplies);  // counted lost at its timeout, or a duplicate
    return true;
  }
  Pending& p = s.box.pending[i];
  p.done = true;
  if (nats::header_status(m.headers) == 503) {
    print_first_error("NATS request",
                      fmt::format("no responders for \"{}\"", subjects_[conn.index]));
    c_.recorder.count(Counter::ErrNoResponders);
  } else {
    c_.recorder.completed(p.intended, p.sent, now);
  }
  expire(conn, s, now);  // pops the answered front
  return true;
}

}  // namespace

std::unique_ptr<Sink> make_nats_sink(SinkContext& context) {
  return std::make_unique<NatsSink>(context);
}

}  // namespace lt
