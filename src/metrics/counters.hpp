#pragma once
// The counters every worker keeps, named in one table so reports, JSON and merges stay in step.
#include <array>
#include <cstdint>
#include <string_view>

namespace lt {

enum class Counter : std::uint8_t {
  Sent,         // handed to the kernel in full
  Completed,    // fire-and-forget: written (nats: confirmed by PONG); echo: reply received
  Missed,       // due, but the device's backlog was full (never sent)
  Lost,         // echo: no reply within --timeout, or outstanding when a connection broke
  Duplicates,   // echo: a reply seen twice
  LateReplies,  // echo: a reply that came after it was counted lost
  BytesSent,
  BytesReceived,
  Writes,       // send syscalls that moved bytes: sent / writes is the coalescing factor
  Connects,     // connections established
  Reconnects,   // of which after a failure
  Disconnects,  // established connections that broke
  Status2xx,    // http: completed responses by status class
  Status3xx,
  Status4xx,
  Status5xx,
  E2eReceived,    // subscribers: messages received (first copy)
  E2eDuplicates,  // subscribers: a copy seen again
  Blocked,        // amqp: the broker blocked a connection (connection.blocked: an alarm)
  Retries,        // kafka: produce requests librdkafka sent again (its statistics' txretries)
  ReqTimeouts,    // kafka: requests that timed out at librdkafka (retried, or failed messages)
  ErrRefused,     // connect: refused by the target
  ErrConnectTimeout,
  ErrUnreachable,   // connect: no route, network down, a source address not ours
  ErrReset,         // connection reset by peer
  ErrClosed,        // peer closed the connection (EOF) while we were sending
  ErrSend,          // other send/receive errors
  ErrMalformed,     // echo: a reply that does not parse
  ErrTimeout,       // http: no response within --timeout (the connection is closed)
  ErrTls,           // TLS handshake failed (certificate verification among the causes)
  ErrBroker,        // the broker refused: CONNACK or SUBACK code, a 5.0 reason code, DISCONNECT
  ErrRejected,      // the broker refused one message and kept the connection (nats -ERR,
                    // amqp basic.nack)
  ErrNoResponders,  // nats request: nobody subscribes to the subject
  ErrReturned,      // amqp --mandatory: the broker could not route a message (basic.return)
  ErrResources,     // this machine ran out: descriptors, local ports or kernel memory
  kCount
};

// Three names a row, kept in columns by hand.
// clang-format off
inline constexpr std::array<std::string_view, std::size_t(Counter::kCount)> kCounterNames = {
    "sent",          "completed",           "missed",
    "lost",          "duplicates",          "late_replies",
    "bytes_sent",    "bytes_received",      "writes",
    "connects",      "reconnects",          "disconnects",
    "status_2xx",    "status_3xx",          "status_4xx",
    "status_5xx",    "e2e_received",        "e2e_duplicates",
    "blocked",       "retries",             "req_timeouts",
    "err_refused",   "err_connect_timeout", "err_unreachable",
    "err_reset",     "err_closed",          "err_send",
    "err_malformed", "err_timeout",         "err_tls",
    "err_broker",    "err_rejected",        "err_no_responders",
    "err_returned",  "err_resources"};
// clang-format on
// Every counter has a name: a missing one would be an empty key in reports.
static_assert(!kCounterNames.back().empty());

struct Counters {
  std::array<std::uint64_t, std::size_t(Counter::kCount)> v{};

  std::uint64_t& operator[](Counter c) { return v[std::size_t(c)]; }
  std::uint64_t operator[](Counter c) const { return v[std::size_t(c)]; }
  void add(const Counters& o) {
    for (std::size_t i = 0; i < v.size(); ++i) v[i] += o.v[i];
  }
  std::uint64_t errors() const {
    std::uint64_t n = 0;
    for (std::size_t i = std::size_t(Counter::ErrRefused); i < v.size(); ++i) n += v[i];
    return n;
  }
};

}  // namespace lt
