#pragma once
// The connection machinery of the sinks that speak a protocol over TCP or TLS (http, mqtt):
// non-blocking connect, the TLS handshake, a write buffer drained as the socket allows, reads
// handed to the protocol, epoll interest, connect timeouts by one periodic sweep, and close
// with capped backoff. A protocol derives from StreamClient, keeps its own per-connection state
// in a vector beside conns_ (same index), and implements the hooks.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/tls.hpp"
#include "sinks/sink.hpp"

namespace lt {

class StreamClient;

struct StreamConn final : IoHandler {
  enum class State : std::uint8_t { Idle, Connecting, Handshaking, Open };
  StreamConn(StreamClient* o, std::uint32_t i, std::uint64_t d) : owner(o), index(i), device(d) {}
  StreamClient* owner;
  std::uint32_t index;
  std::uint64_t device;  // picks the --source-ip
  int fd = -1;
  State state = State::Idle;
  bool ready = false;             // the protocol said the connection can carry messages
  bool out_registered = false;    // EPOLLOUT is in the epoll interest
  bool write_waits = false;       // a write stopped until the socket is writable
  bool write_waits_read = false;  // TLS: a write stopped until the socket is readable
  bool read_waits_write = false;  // TLS: a read stopped until the socket is writable
  bool dirty = false;             // in the flush list
  bool settled = false;           // first connection attempt ended, either way
  bool ever_ready = false;
  unsigned attempt = 0;          // reconnect backoff step
  std::uint64_t generation = 0;  // stale timers compare against it
  std::string out;               // bytes not yet written
  std::size_t out_at = 0;        // of which already written
  std::uint64_t written = 0;     // stream bytes written since the connection opened
  std::uint64_t acked_seen = 0;  // peer_progress(): the peer's acknowledged bytes at the last look
  Nanos acked_moved_at = 0;      // ... and when they last grew while the peer held us back
  std::unique_ptr<TlsSession> tls;
  Nanos connect_began = 0, opened_at = 0, handshake_began = 0, ready_at = 0;

  bool write_stopped() const { return write_waits || write_waits_read; }
  // The stream offset (since the connection opened) just past the last byte buffered.
  std::uint64_t stream_end() const { return written - out_at + out.size(); }
  void on_io(std::uint32_t events, Nanos now) override;
};

class StreamClient : public Sink {
 public:
  // `connections` may exceed the devices (MQTT subscribers): connection i >= devices uses
  // `extra_device_base + i` for its source address. `sweep_every` bounds timeout resolution.
  StreamClient(SinkContext& c, std::size_t connections, Nanos sweep_every);
  ~StreamClient() override;

  std::uint32_t connected() const override { return ready_; }
  // The helper connections (subscribers, responders, consumers: conns_ past the devices) open
  // with device 0, and the run starts once each is listening or has failed once: a message
  // published before would count as lost.
  void open(std::uint32_t local, Nanos now) override;
  std::uint32_t settled() const override {
    return helpers_settled_ < conns_.size() - c_.device_ids.size() ? 0 : settled_;
  }
  void flush(Nanos now) override;

  void handle(StreamConn& conn, std::uint32_t events, Nanos now);

 protected:
  // TCP (and TLS) is up: HTTP is ready at once, MQTT sends its CONNECT first. With a protocol
  // that upgrades to TLS itself (tls_first() false) it is called twice: at the TCP connect and
  // again when the handshake start_tls() began is done.
  virtual void on_open(StreamConn& conn, Nanos now) = 0;
  // NATS reads the server's INFO in plain text before the TLS handshake; the others shake
  // hands at once.
  virtual bool tls_first() const { return true; }
  // Bytes read; false once the hook closed the connection.
  virtual bool on_data(StreamConn& conn, const char* data, std::size_t size, Nanos now) = 0;
  // A write is about to begin at `now`: the protocol may stamp the bytes not yet begun.
  virtual void before_write(StreamConn&, Nanos) {}
  // `conn.written` advanced; `began` is when the write began (the actual send).
  virtual void on_written(StreamConn& conn, Nanos began) = 0;
  // The peer closed its side: the hook decides between a clean close and an error.
  virtual void on_peer_closed(StreamConn& conn, Nanos now) = 0;
  // The connection is being closed: count what is outstanding, reset the protocol's state.
  virtual void on_close(StreamConn& conn, Nanos now, bool clean) = 0;
  // Each sweep, for every ready connection: reply deadlines, keep-alives.
  virtual void on_sweep(StreamConn&, Nanos) {}

  // True while a ready device's outbox (states[i].box) still holds messages.
  template <typename State>
  bool devices_pending(const std::vector<State>& states) const {
    for (std::size_t i = 0; i < c_.device_ids.size(); ++i)
      if (conns_[i].ready && !states[i].box.pending.empty()) return true;
    return false;
  }
  bool has_helpers() const { return conns_.size() > c_.device_ids.size(); }

  void open_conn(StreamConn& conn, Nanos now);
  // Begins the TLS handshake on an open plain connection (tls_first() false); reads stop until
  // it is done.
  void start_tls(StreamConn& conn, Nanos now);
  // The protocol's handshake is done (HTTP: at open; MQTT: CONNACK accepted).
  void mark_ready(StreamConn& conn, Nanos now);
  void mark_dirty(StreamConn& conn);
  // Control packets (CONNECT, SUBSCRIBE, acks, PINGs, replies) go out at once, also outside
  // the worker's flush rounds (the connect phase has none); a stopped write resumes on its
  // event. The connection may be closed on return (a failed write).
  void send_now(StreamConn& conn, Nanos now) {
    if (conn.out_at < conn.out.size() && !conn.write_stopped()) write_out(conn, now);
  }
  // A device that said Busy is told it can send again, once.
  void tell_ready(StreamConn& conn, bool& owe_ready, Nanos now) {
    if (owe_ready && conn.ready) {
      owe_ready = false;
      c_.events.ready(conn.index, now);
    }
  }
  void write_out(StreamConn& conn, Nanos now);
  // Closes after a failure (counted; reconnect with backoff) or, with Counter::kCount, cleanly
  // (reconnect at once). Nothing reconnects once stopping.
  void close(StreamConn& conn, Nanos now, Counter error);
  void stop_all(Nanos now);
  // stop_all() after farewell(conn.out) is written to each ready connection (MQTT DISCONNECT,
  // AMQP connection.close), so the broker sees a client leave rather than a connection drop.
  template <typename Fn>
  void stop_all_saying(Nanos now, Fn&& farewell) {
    for (auto& conn : conns_) {
      if (!conn.ready) continue;
      farewell(conn.out);
      write_out(conn, now);
    }
    stop_all(now);
  }
  bool stopping() const { return stopped_; }
  // Prints the first TLS (or protocol) failure of the process once, as it happens: the reason
  // is what a user needs to fix a run that every device would otherwise only count.
  void print_first_error(const char* what, const std::string& why) const;
  // When the peer was last seen reading our bytes, looked up now. An answer it owes (PONG,
  // PINGRESP) queues behind everything we sent before: a deadline for it runs from the later of
  // the request and this, so a slow peer is waited for and a stalled one is not. Its kernel
  // acknowledges what its application may never read (a stopped server's buffer still fills),
  // so acknowledgements count only while bytes wait in our queue for its window. Looked up on
  // each sweep while an answer is late; mark_progress() when the request goes out, so that
  // older acknowledgements are not taken for new ones.
  Nanos peer_progress(StreamConn& conn, Nanos now);
  void mark_progress(StreamConn& conn);
  // The peer refused (a broker's reason code, -ERR): the reason printed once, err_broker, a
  // reconnect with backoff. Both return false, the protocols' "closed" result.
  bool refuse(StreamConn& conn, Nanos now, const char* what, std::string_view why);
  // The peer's bytes are not `protocol`: err_malformed (the detail with --verbose).
  bool malformed(StreamConn& conn, Nanos now, const char* protocol, std::string_view why);

  SinkContext& c_;
  std::vector<StreamConn> conns_;

 private:
  void connect_done(StreamConn& conn);
  void step_handshake(StreamConn& conn, Nanos now);
  void read_in(StreamConn& conn, Nanos now);
  void sweep(Nanos now);
  void sync_interest(StreamConn& conn);
  void close_fd(StreamConn& conn);
  Counter io_error(StreamConn& conn, TlsIo status, int err);
  std::size_t io(StreamConn& conn, bool write, char* data, std::size_t size, TlsIo& status,
                 int& err);

  std::unique_ptr<TlsContext> tls_;
  std::vector<std::uint32_t> dirty_, flushing_;
  std::vector<char> rbuf_;
  std::uint32_t ready_ = 0, settled_ = 0;
  std::uint32_t helpers_settled_ = 0;
  std::uint64_t rng_;
  Nanos sweep_every_;
  bool sweeping_ = false;
  bool stopped_ = false;
};

}  // namespace lt
