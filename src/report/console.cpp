#include "report/console.hpp"

#include <fmt/format.h>

#include <string>

#include "report/format.hpp"

namespace lt {

namespace {
constexpr double kPercentiles[] = {50, 90, 99, 99.9, 99.99, 100};
}  // namespace

std::string errors_by_kind(const Counters& c) {
  std::string out;
  for (std::size_t i = std::size_t(Counter::ErrRefused); i < std::size_t(Counter::kCount); ++i) {
    if (c.v[i] == 0) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", kCounterNames[i].substr(4), c.v[i]);  // drop "err_"
  }
  return out.empty() ? "none" : out;
}

namespace {

void percentile_row(std::FILE* out, const char* name, const HdrHistogram& h) {
  std::string row = fmt::format("  {:<10}", name);
  if (h.total_count() == 0) {
    fmt::print(out, "{}  (no samples)\n", row);
    return;
  }
  for (double p : kPercentiles)
    row += fmt::format("{:>10}", format_duration(h.value_at_percentile(p)));
  fmt::print(out, "{}  (n={})\n", row, h.total_count());
}
}  // namespace

void print_progress(std::FILE* out, const RunResult& run, const IntervalPoint& p,
                    std::uint64_t devices) {
  const Counters& c = p.counters;
  const double rate =
      p.length > 0 ? double(c[Counter::Sent]) * double(kSecond) / double(p.length) : 0.0;
  fmt::print(out,
             "[{:>7.1f}s] rate {:>11} (target {})  sent {}  done {}  missed {}  lost {}  err {}"
             "  latency p50 {} p99 {}  conn {}/{}\n",
             double(p.start + p.length) / 1e9, format_rate(rate),
             run.options->closed_loop ? "max" : format_rate(run.target_rate()), c[Counter::Sent],
             c[Counter::Completed], c[Counter::Missed], c[Counter::Lost], c.errors(),
             format_duration(p.latency_p50), format_duration(p.latency_p99), p.connected, devices);
  std::fflush(out);
}

void print_summary(std::FILE* out, const RunResult& run) {
  const Options& o = *run.options;
  const Counters& c = run.total.counters;
  const double target = run.target_rate(), achieved = run.achieved_rate();
  const bool http = o.sink == "http";
  fmt::print(out, "\n{} {}{}{}: {} devices, {}, {} {} B, {} workers{}\n", o.sink,
             o.tls.enabled ? "tls " : "", run.target, o.echo ? " (echo)" : "", o.devices,
             o.closed_loop ? "closed loop" : format_rate(target) + " total",
             http ? "body" : "payload", o.payload, run.workers,
             run.interrupted ? ", INTERRUPTED" : "");
  if (o.size > 1)
    fmt::print(
        out, "  rank        {} of {}: {} of the {} devices, {} of the {} total{}\n", o.rank, o.size,
        o.local_devices(), o.devices, format_rate(run.target_rate()),
        format_rate(o.total_rate().per_second()),
        run.start_late_ns ? ", started " + format_duration(run.start_late_ns) + " late" : "");
  if (http)
    fmt::print(out, "  request     {} {} (pipeline {})\n", o.http.method, o.http.target,
               o.http.pipeline);
  if (o.closed_loop) {
    fmt::print(out, "  rate        closed loop (--rate max): achieved {} over {}\n",
               format_rate(achieved), format_duration(run.elapsed));
  } else {
    fmt::print(out, "  rate        target {}  achieved {} ({:+.3f}%) over {}\n",
               format_rate(target), format_rate(achieved),
               target > 0 ? (achieved / target - 1) * 100 : 0.0, format_duration(run.elapsed));
  }
  fmt::print(out, "  messages    sent {}  completed {}  missed {}  lost {}", c[Counter::Sent],
             c[Counter::Completed], c[Counter::Missed], c[Counter::Lost]);
  if (c[Counter::Duplicates] || c[Counter::LateReplies])
    fmt::print(out, "  duplicates {}  late replies {}", c[Counter::Duplicates],
               c[Counter::LateReplies]);
  if (http)
    fmt::print(out, "\n  responses   2xx {}  3xx {}  4xx {}  5xx {}", c[Counter::Status2xx],
               c[Counter::Status3xx], c[Counter::Status4xx], c[Counter::Status5xx]);
  if (o.sink == "nats")
    fmt::print(out, "\n  nats        {} to {}  rejected {}  no responders {}",
               nats_mode_name(o.nats.mode), o.nats.subject, c[Counter::ErrRejected],
               c[Counter::ErrNoResponders]);
  if (o.sink == "amqp")
    fmt::print(out, "\n  amqp        to {} key {}  confirms {}  nacked {}  returned {}  blocked {}",
               o.amqp.exchange.empty() ? "the default exchange" : "exchange " + o.amqp.exchange,
               o.amqp.key_template(), o.amqp.confirm ? "on" : "off", c[Counter::ErrRejected],
               c[Counter::ErrReturned], c[Counter::Blocked]);
  if (o.sink == "kafka")
    fmt::print(out, "\n  kafka       topic {}  acks {}  retries {}  request timeouts {}",
               o.kafka.topic, o.kafka.acks, c[Counter::Retries], c[Counter::ReqTimeouts]);
  if (!run.total.codes.empty()) {
    std::string codes;
    for (const auto& [code, n] : run.total.codes)
      codes += fmt::format("{}{} {}", codes.empty() ? "" : ", ", code, n);
    fmt::print(out, "\n  by code     {}", codes);
  }
  if (o.subscribers > 0) {
    const std::uint64_t got = c[Counter::E2eReceived], sent = c[Counter::Sent];
    fmt::print(out, "\n  end to end  received {} of {} sent ({:.3f}%)  lost {}  duplicates {}", got,
               sent, sent ? 100.0 * double(got) / double(sent) : 0.0, sent > got ? sent - got : 0,
               c[Counter::E2eDuplicates]);
  }
  fmt::print(out, "\n  bytes       sent {}  received {}  in {} writes ({:.2f} messages/write)\n",
             c[Counter::BytesSent], c[Counter::BytesReceived], c[Counter::Writes],
             c[Counter::Writes] ? double(c[Counter::Sent]) / double(c[Counter::Writes]) : 0.0);
  fmt::print(out,
             "  connections connected at start {}/{}  connects {}  reconnects {}  "
             "disconnects {}\n",
             run.connected_at_start, o.local_devices(), c[Counter::Connects],
             c[Counter::Reconnects], c[Counter::Disconnects]);
  if (run.phase_connects > 1) {
    fmt::print(out, "  connecting  {} established in {}", run.phase_connects,
               format_duration(run.phase_connect_span));
    if (run.connect_rate() > 0) fmt::print(out, ": {}", format_rate(run.connect_rate()));
    if (o.connect_rate)
      fmt::print(out, " (target {}, {:+.2f}%)", format_rate(o.connect_rate->per_second()),
                 (run.connect_rate() / o.connect_rate->per_second() - 1) * 100);
    fmt::print(out, "\n");
  }
  fmt::print(out, "  errors      {}\n", errors_by_kind(c));
  fmt::print(out, "  process     peak memory {:.1f} MiB, cpu {:.2f} s\n",
             double(run.max_rss_kib) / 1024, run.cpu_seconds);
  std::string head = fmt::format("  {:<10}", "");
  for (const char* h : {"p50", "p90", "p99", "p99.9", "p99.99", "max"})
    head += fmt::format("{:>10}", h);
  fmt::print(out, "{}\n", head);
  percentile_row(out, "latency", run.total.latency);
  percentile_row(out, "service", run.total.service);
  percentile_row(out, "lateness", run.total.lateness);
  percentile_row(out, "connect", run.total.connect);
  if (o.tls.enabled) percentile_row(out, "tls", run.total.handshake);
  if (o.subscribers > 0) percentile_row(out, "e2e", run.total.e2e);
  const bool mqtt_ack = o.sink == "mqtt" && o.mqtt.qos > 0;
  const bool nats = o.sink == "nats";
  const std::string until =
      http       ? "the whole response"
      : o.echo   ? "the echoed reply"
      : mqtt_ack ? (o.mqtt.qos == 1 ? "the broker's PUBACK" : "the broker's PUBCOMP")
      : nats && o.nats.mode == NatsMode::Request ? "the reply"
      : o.sink == "amqp" && o.amqp.confirm       ? "the broker's confirm (basic.ack)"
      : o.sink == "kafka"
          ? (o.kafka.acks == "0" ? "the delivery report (acks 0: the request written)"
                                 : "the delivery report (acks " + o.kafka.acks + ")")
      : nats ? "the message being handed to the kernel; completed counts those a PONG from the "
               "server confirmed"
             : "the message being handed to the kernel";
  if (o.closed_loop) {
    fmt::print(out,
               "  latency: CLOSED LOOP, from when a reply freed the device to {}: there is no "
               "schedule, so a "
               "stalled target slows the senders instead of showing as latency (not "
               "coordinated-omission corrected; use a fixed --rate for that)\n",
               until);
  } else {
    fmt::print(out,
               "  latency: from the intended send time to {} (includes any wait the target "
               "caused; coordinated-omission free)\n",
               until);
  }
  fmt::print(out,
             "  service: from the actual send, the uncorrected view; lateness: actual send "
             "minus intended send; connect: connection attempt to established{}\n",
             o.tls.enabled ? "; tls: TLS handshake after the connect" : "");
  if (o.subscribers > 0)
    fmt::print(out,
               "  e2e: from the intended send time to a subscriber's receipt (the timestamp in "
               "the payload)\n");
}

}  // namespace lt
