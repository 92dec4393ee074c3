#pragma once
// One options structure for the whole tool, filled from the command line (and later a config
// file) and validated once at start-up. Nothing below main() parses or exits.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/rate.hpp"
#include "core/time.hpp"

namespace lt {

enum class Command { Run, Serve, Help, Version };
enum class Arrival { Constant, Poisson };

// Fault and delay injection for `serve`, so tests can check the tool's numbers against known
// truth. Zero means off.
struct ServeFaults {
  Nanos delay_min = 0;    // echo each message this long after it arrived...
  Nanos delay_max = 0;    // ...or a uniform draw in [min, max]
  Nanos stall = 0;        // stop reading and answering for this long...
  Nanos stall_every = 0;  // ...at the end of every period this long, from the first traffic
  double drop = 0;        // udp: fraction of datagrams never answered
  std::uint64_t seed = 1;
  bool any() const { return delay_max > 0 || stall > 0 || drop > 0; }
};

// The HTTP sink's request (--sink http). One request is built from these once per run.
struct HttpOptions {
  std::string target = "/";  // request-target: path and query
  std::string method = "GET";
  std::vector<std::string> headers;        // "Name: value", checked
  std::vector<std::string> shown_headers;  // as reports show them: credentials redacted
  std::string header_file;
  std::string body;
  std::string body_file;       // where the body came from, for describe_options()
  std::uint32_t pipeline = 1;  // requests in flight per connection
};

// Credentials for the brokers (mqtt, nats, amqp). Secrets come from files or environment variables
// ($LT_PASSWORD, $LT_TOKEN), never from the command line, and are never printed.
struct Credentials {
  std::string username;
  std::string password;
  std::string password_file;
  std::string token;  // nats: auth_token
  std::string token_file;
};

// The MQTT sink (--sink mqtt).
struct MqttOptions {
  int version = 4;  // protocol level: 4 = 3.1.1, 5 = 5.0
  std::uint8_t qos = 0;
  bool retain = false;
  std::string topic = "load-tester/{device}";
  std::string client_id = "lt-{rank}-{device}";
  Nanos keepalive = 60 * kSecond;
};

// The NATS sink (--sink nats).
enum class NatsMode : std::uint8_t {
  Pub,      // publish; a periodic PING/PONG confirms the server read them
  Request,  // request/reply round trips through a reply inbox
  E2e,      // publish, and --subscribers inside the tool measure publish-to-receipt
};
inline const char* nats_mode_name(NatsMode m) {
  return m == NatsMode::Request ? "request" : m == NatsMode::E2e ? "e2e" : "pub";
}
struct NatsOptions {
  NatsMode mode = NatsMode::Pub;
  std::string subject = "load-tester.{device}";
  std::vector<std::string> headers;        // "Name: value": sent as HPUB
  std::vector<std::string> shown_headers;  // as reports show them: credentials redacted
  std::string header_file;
  std::uint32_t responders = 0;  // request: reply connections inside the tool
  Nanos ping_interval = 1 * kSecond;
};

// The AMQP 0-9-1 sink (--sink amqp, RabbitMQ).
struct AmqpOptions {
  std::string vhost = "/";
  std::string exchange;                  // "" = the default exchange (routes by queue name)
  std::string exchange_type = "direct";  // for --declare
  std::string routing_key;               // template; empty = the --queue template
  std::string queue = "load-tester";     // template: declared and bound (--declare), consumed
  bool declare = false;                  // declare exchange, queues and bindings first
  bool durable = false;                  // --declare: durable exchange and queues
  bool auto_delete = false;              // --declare: auto-delete exchange and queues
  bool mandatory = false;                // unroutable messages come back (basic.return)
  bool confirm = true;                   // publisher confirms: latency until basic.ack
  Nanos heartbeat = 60 * kSecond;        // proposed; the broker's lower value wins; 0 = off
  const std::string& key_template() const { return routing_key.empty() ? queue : routing_key; }
};

// The Kafka sink (--sink kafka). A device is one keyed message stream; devices share a few
// librdkafka producers, because each owns threads.
struct KafkaOptions {
  std::string brokers = "127.0.0.1:9092";  // bootstrap list host:port,...
  std::string topic = "load-tester";       // template
  std::string key = "{device}";            // template; "" = no key (librdkafka spreads them)
  std::string acks = "all";                // all, 1 or 0
  std::uint32_t producers = 0;             // in the process; 0 = one per worker
  // -X name=value, in the order given, passed to librdkafka after our own settings.
  std::vector<std::pair<std::string, std::string>> properties;
  // --kafka-config FILE: more properties, secrets among them; never printed or recorded.
  std::string config_file;
  std::vector<std::pair<std::string, std::string>> file_properties;
};

// TLS for the sinks that speak it. Verification is on unless --insecure.
struct TlsOptions {
  bool enabled = false;
  std::string ca_file;  // empty = the system's trust store
  bool insecure = false;
};

struct Options {
  Command command = Command::Run;

  // Load shape
  std::uint64_t devices = 1;
  Rate msg{2, 1};            // per device; when --rate is given it is derived from it
  std::optional<Rate> rate;  // total messages/s across all devices (exclusive with --msg)
  // --rate max: each device sends its next message when a reply frees a slot. No schedule, so
  // latency is measured from the actual send and cannot be corrected for coordinated omission.
  bool closed_loop = false;
  std::uint64_t payload = 64;    // bytes per message, header included
  Nanos duration = 2 * kSecond;  // 0 = until interrupted
  Arrival arrival = Arrival::Constant;
  std::uint64_t seed = 1;  // Poisson draws; runs are reproducible

  // Target
  std::string sink = "tcp";
  std::string hostname = "127.0.0.1";
  std::uint16_t port = 18000;
  bool echo = false;  // target echoes; measure round trips
  // Where hostname came from, for errors: "--hostname" or "--url".
  const char* target_flag = "--hostname";
  HttpOptions http;
  MqttOptions mqtt;
  NatsOptions nats;
  AmqpOptions amqp;
  KafkaOptions kafka;
  TlsOptions tls;
  Credentials auth;
  std::uint32_t subscribers = 0;  // mqtt, nats subscribers, amqp and kafka consumers: end to end
  // mqtt: keep sessions (clean session off); amqp: persistent messages (delivery mode 2)
  bool persistent = false;

  // Engine
  unsigned threads = 0;                 // 0 = one per core
  bool precise = false;                 // sleep to a margin, then spin
  std::uint32_t backlog = 64;           // per-device messages waiting for a busy connection
  std::uint32_t inflight = 1024;        // per-device unanswered messages in echo mode
  Nanos timeout = 1 * kSecond;          // echo reply deadline (UDP loss) and end-of-run drain bound
  Nanos connect_timeout = 2 * kSecond;  // after the last paced connect has begun
  // A TCP connection whose sent bytes stay unacknowledged, or whose peer's window stays shut,
  // this long is given up (TCP_USER_TIMEOUT); 0 leaves the kernel's ~15 minutes.
  Nanos peer_timeout = 10 * kSecond;
  std::optional<Rate> connect_rate;     // new connections per second; none = all at once
  std::vector<std::string> source_ips;  // local addresses, device d uses [d % size]

  // Distributed runs: this process is rank `rank` of `size`, each with the same options, which
  // describe the whole test; it takes devices rank, rank + size, ... (see src/cli/placement).
  std::uint32_t rank = 0;
  std::uint32_t size = 1;
  std::string placement = "";     // where rank and size came from ("", "--rank", "OMPI_...")
  std::optional<Nanos> start_at;  // wall-clock start (Unix ns) every rank waits for

  // Reporting
  Nanos update = 1 * kSecond;
  std::string json_path;
  std::string hdr_log_path;
  bool noexec = false;
  bool verbose = false;
  bool quiet = false;  // no live progress lines

  // serve
  std::string bind = "127.0.0.1";
  bool port_given = false;  // serve defaults to 18000 too, but 0 asks for a free port
  ServeFaults faults;

  // Total messages per second across all devices (of every rank).
  Rate total_rate() const { return rate ? *rate : msg.times(devices); }
  // Devices of this rank: ids d with d mod size == rank.
  std::uint64_t local_devices() const { return (devices - rank + size - 1) / size; }

  // This rank's share of the total rate (the whole of it without ranks).
  Rate local_rate() const { return size == 1 ? total_rate() : msg.times(local_devices()); }
};

// Thrown by parsing/validation only (never on the hot path): the message names the flag and the
// accepted range, main() prints it on one line and exits with code 2.
struct UsageError {
  std::string message;
};

// Parses argv (Go-style single-dash long flags accepted) and validates. Throws UsageError.
// On --help / --version returns Options with command Help/Version and fills `text`.
Options parse_options(int argc, const char* const* argv, std::string* text = nullptr);

// The effective options as one line of flags for --verbose output; pasted back as arguments
// (paths unquoted) it parses to the same options.
std::string describe_options(const Options& options);

}  // namespace lt
