#include "cli/options.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <numeric>
#include <string_view>

#include "cli/amqp_flags.hpp"
#include "cli/broker_flags.hpp"
#include "cli/flags.hpp"
#include "cli/http_flags.hpp"
#include "cli/kafka_flags.hpp"
#include "cli/mqtt_flags.hpp"
#include "cli/nats_flags.hpp"
#include "cli/placement.hpp"
#include "cli/target_flags.hpp"
#include "cli/units.hpp"
#include "sinks/registry.hpp"

namespace lt {

bool valid_hostname(std::string_view h) {
  const std::string s(h);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1)
    return true;
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);  // fully qualified form
  if (h.empty() || h.size() > 253) return false;
  while (true) {
    const auto dot = h.find('.');
    const std::string_view label = h.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    if (dot == std::string_view::npos) return true;
    h.remove_prefix(dot + 1);
  }
}

namespace {

constexpr std::uint64_t kMaxDevices = 10'000'000;
constexpr std::uint64_t kMaxPerDevice = 10'000'000;  // messages/s; beyond this a tick is < 100ns
constexpr std::uint64_t kMaxPayload = 16u << 20;     // the wire format's largest frame
constexpr Nanos kYear = 365 * 24 * 3600 * kSecond;
constexpr Nanos kHour = 3600 * kSecond;

// Go's flag package spells long flags with one dash; turn them into CLI11's "--" form. Real
// short flags (-h, -v, -q) are one letter and negative numbers ("-5") are values, so both stay.
std::vector<std::string> go_style_to_gnu(int argc, const char* const* argv) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i] ? argv[i] : "";
    const bool single_dash_long = a.size() > 2 && a[0] == '-' && a[1] != '-';
    const bool number = a.size() > 1 && ((a[1] >= '0' && a[1] <= '9') || a[1] == '.');
    if (single_dash_long && !number) a.insert(0, "-");
    // CLI11 reads "--json=" as a missing value; treat it as an explicit empty one, like Go.
    if (a.starts_with("--") && a.find('=') == a.size() - 1) {
      out.push_back(a.substr(0, a.size() - 1));
      out.emplace_back();
      continue;
    }
    out.push_back(a);
  }
  return out;
}

constexpr std::size_t kMaxSourceIps = 65536;

// "A", "A,B,C" (IPv4 or IPv6) or "A-B" (an IPv4 range, both ends included), expanded.
std::optional<std::vector<std::string>> parse_source_ips(const std::string& text) {
  std::vector<std::string> out;
  unsigned char buf[sizeof(in6_addr)];
  const auto dash = text.find('-');
  if (dash != std::string::npos) {
    in_addr lo{}, hi{};
    if (inet_pton(AF_INET, text.substr(0, dash).c_str(), &lo) != 1 ||
        inet_pton(AF_INET, text.substr(dash + 1).c_str(), &hi) != 1)
      return std::nullopt;
    const std::uint32_t a = ntohl(lo.s_addr), b = ntohl(hi.s_addr);
    if (a > b || b - a >= kMaxSourceIps) return std::nullopt;
    for (std::uint64_t v = a; v <= b; ++v) {
      in_addr x{htonl(std::uint32_t(v))};
      char s[INET_ADDRSTRLEN];
      out.emplace_back(inet_ntop(AF_INET, &x, s, sizeof s));
    }
    return out;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    std::string one = text.substr(start, comma == std::string::npos ? comma : comma - start);
    if (inet_pton(AF_INET, one.c_str(), buf) != 1 && inet_pton(AF_INET6, one.c_str(), buf) != 1)
      return std::nullopt;
    out.push_back(std::move(one));
    if (out.size() > kMaxSourceIps) return std::nullopt;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// CLI11's messages can span lines and use its own vocabulary; reduce them to one line.
std::string one_line(const CLI::ParseError& e) {
  std::string what = e.what();
  const std::string convert = "Could not convert: ";
  if (what.starts_with(convert)) {  // only bool flags are converted by CLI11 itself
    const auto eq = what.find(" = ");
    if (eq != std::string::npos)
      return fmt::format("{}: expected true or false, got \"{}\"",
                         what.substr(convert.size(), eq - convert.size()), what.substr(eq + 3));
  }
  if (e.get_name() == "ArgumentMismatch" && what.find(" required ") != std::string::npos)
    return what.substr(0, what.find(':')) + ": missing value";
  std::replace(what.begin(), what.end(), '\n', ' ');
  return what;
}

void check_extras(const CLI::App& app, bool serve) {
  for (const auto& extra : app.remaining()) {
    if (extra == "--") continue;
    if (extra == "run" || extra == "serve")
      throw UsageError{fmt::format("\"{}\" must be the first argument", extra)};
    if (extra.size() > 1 && extra[0] == '-')
      throw UsageError{fmt::format("unknown option \"{}\"{}", extra.substr(0, extra.find('=')),
                                   serve ? " for serve" : "")};
    throw UsageError{fmt::format("unexpected argument \"{}\"", extra)};
  }
}

void add_run_flags(Flags& f, CLI::App& app, Options& o) {
  f.value("--devices", "N", "simulated devices, one connection each (1..10M) [1]");
  f.value("--msg", "RATE", "messages per second per device, e.g. 0.5, 10k [2]");
  f.value("--rate", "RATE",
          "total messages per second instead of --msg; max = closed loop, each device sends "
          "when a reply frees a slot");
  f.value("--payload", "SIZE", "bytes per message, header included, e.g. 64, 1KiB [64]");
  f.value("--duration", "DURATION", "run time, e.g. 30s, 5m; 0 = until Ctrl-C [2s]");
  f.value("--hostname", "HOST", "target address or name [127.0.0.1]");
  f.value("--port", "PORT", "target port [18000]");
  f.value("--sink", "NAME",
          "protocol: " + fmt::format("{}", fmt::join(sink_names(), ", ")) + " [tcp]");
  f.value("--update", "DURATION", "progress interval, 10ms..1h [1s]");
  f.value("--threads", "N", "worker threads, 0 = one per core (one fewer for a local target) [0]");
  f.value("--arrival", "KIND", "constant or poisson [constant]");
  f.value("--seed", "N", "seed for poisson arrivals [1]");
  f.value("--backlog", "N", "messages queued per device while its connection is busy [64]");
  f.value("--inflight", "N", "unanswered messages per device in echo mode [1024]");
  f.value("--timeout", "DURATION", "echo reply deadline and end-of-run drain bound [1s]");
  f.value("--connect-timeout", "DURATION", "time allowed for all devices to connect [2s]");
  f.value("--peer-timeout", "DURATION",
          "give up a TCP connection whose data stays unacknowledged or whose peer reads nothing "
          "this long; 0 = the kernel's ~15 min, else 1ms..1h [10s]");
  f.value("--connect-rate", "RATE",
          "open connections at this rate per second, e.g. 5k [all at once]");
  f.value("--source-ip", "ADDRS",
          "local addresses to connect from, spread over devices: A, A,B or A-B (IPv4 range)");
  f.value("--json", "FILE", "write the result as JSON");
  f.value("--hdr-log", "FILE", "write latency histograms as an HdrHistogram log");
  app.add_flag("--echo", o.echo, "the target echoes; measure round trips");
  app.add_flag("--noexec", o.noexec, "print the plan and exit without sending");
  app.add_flag("--precise", o.precise, "sleep to a margin, then spin, for tighter send times");
  add_target_flags(f, app, o);
  add_http_flags(f);
  add_broker_flags(f, app, o);
  add_mqtt_flags(f, app, o);
  add_nats_flags(f);
  add_amqp_flags(f, app, o);
  add_kafka_flags(f);
  add_placement_flags(f);
}

void validate_run(Flags& f, Options& o) {
  f.count("--devices", o.devices, 1, kMaxDevices);
  if (f.given("--msg") && f.given("--rate"))
    throw UsageError{"--msg and --rate are exclusive: give one"};
  if (auto m = f.rate("--msg", kMaxPerDevice)) o.msg = *m;
  o.closed_loop = f.given("--rate") && f.raw("--rate") == "max";
  if (!o.closed_loop) o.rate = f.rate("--rate", kMaxPerDevice * kMaxDevices);
  if (o.rate) {
    // Per device share of the total, kept exact (den <= 1e9 * 1e7 cannot overflow).
    const std::uint64_t num = o.rate->num, den = o.rate->den * o.devices, g = std::gcd(num, den);
    o.msg = Rate{num / g, den / g};
    if (o.msg.num > kMaxPerDevice * o.msg.den)
      throw UsageError{
          fmt::format("--rate: {} over {} device(s) is more than {} per device; raise --devices",
                      format_exact(*o.rate), o.devices, kMaxPerDevice)};
  } else {
    std::uint64_t total;
    if (__builtin_mul_overflow(o.msg.num, o.devices, &total))
      throw UsageError{fmt::format("--msg: {} times {} devices overflows; use fewer decimals",
                                   format_exact(o.msg), o.devices)};
  }
  f.duration("--duration", o.duration, 0, kYear);
  if (f.given("--hostname")) {
    if (!valid_hostname(f.raw("--hostname")))
      f.fail("--hostname",
             "expected an IP address or a host name (letters, digits, '-', '.'; "
             "give the port with --port)");
    o.hostname = f.raw("--hostname");
  }
  f.count("--port", o.port, 1, 65535);
  f.choice("--sink", o.sink, sink_names(), "sink");
  validate_target(f, o);
  f.size("--payload", o.payload, 1, kMaxPayload);
  if (const SinkInfo* sink = find_sink(o.sink); sink && o.payload < sink->min_payload)
    throw UsageError{fmt::format("--payload: sink {} needs at least {} bytes (its header), got {}",
                                 o.sink, sink->min_payload, o.payload)};
  // One message is one datagram: beyond the IPv4 UDP maximum every send would fail.
  if (o.sink == "udp" && o.payload > 65507)
    throw UsageError{fmt::format("--payload: sink udp takes 32 to 65507 bytes, got {}", o.payload)};
  validate_http(f, o);
  validate_broker(f, o);
  validate_mqtt(f, o);
  validate_nats(f, o);
  validate_amqp(f, o);
  validate_kafka(f, o);
  const bool replies = o.sink == "http" || o.echo || (o.sink == "mqtt" && o.mqtt.qos > 0) ||
                       (o.sink == "nats" && o.nats.mode == NatsMode::Request) ||
                       (o.sink == "amqp" && o.amqp.confirm) || o.sink == "kafka";
  if (o.closed_loop && !replies)
    throw UsageError{
        "--rate max: needs replies to pace it: use --sink http, --echo, mqtt with --qos 1 or 2, "
        "nats with --nats-mode request, amqp with confirms, or kafka"};
  f.duration("--update", o.update, 10 * kMilli, kHour);
  f.count("--threads", o.threads, 0, 1024);
  std::string arrival;
  f.choice("--arrival", arrival, {"constant", "poisson"}, "arrival");
  if (!arrival.empty()) o.arrival = arrival == "poisson" ? Arrival::Poisson : Arrival::Constant;
  if (o.closed_loop && o.arrival == Arrival::Poisson)
    throw UsageError{"--arrival: poisson needs a rate; --rate max has no schedule"};
  f.count("--seed", o.seed, 0, UINT64_MAX);
  f.count("--backlog", o.backlog, 0, 1'000'000);
  f.count("--inflight", o.inflight, 1, 1'000'000);
  // Upper bounds keep deadline arithmetic (now + timeout) far from overflow.
  f.duration("--timeout", o.timeout, 1, kYear);
  f.duration("--connect-timeout", o.connect_timeout, 1, kYear);
  f.duration("--peer-timeout", o.peer_timeout, 0, kHour);
  if (o.peer_timeout > 0 && o.peer_timeout < kMilli)  // the kernel counts milliseconds
    f.fail("--peer-timeout", "expected 0 (off) or a duration from 1ms to 1h");
  if (auto r = f.rate("--connect-rate", 10'000'000)) o.connect_rate = *r;
  if (f.given("--source-ip")) {
    auto ips = parse_source_ips(f.raw("--source-ip"));
    if (!ips)
      f.fail("--source-ip",
             fmt::format("expected IP addresses A, A,B,... or an IPv4 range A-B of at most {} "
                         "addresses",
                         kMaxSourceIps));
    o.source_ips = std::move(*ips);
  }
  f.path("--json", o.json_path);
  f.path("--hdr-log", o.hdr_log_path);
  validate_placement(f, o, [](const char* name) { return std::getenv(name); });
}

void add_serve_flags(Flags& f, CLI::App& app, Options& o) {
  f.value("--sink", "NAME", "protocol: tcp, udp or http [tcp]");
  f.value("--port", "PORT", "port to listen on, 0 = pick a free one [18000]");
  f.value("--bind", "ADDR", "address to listen on [127.0.0.1]");
  f.value("--json", "FILE", "write final counters as JSON");
  f.value("--delay", "DURATION", "echo each message this late, or a uniform range: 1ms..3ms");
  f.value("--stall", "DURATION", "stop reading and answering this long, every --stall-every");
  f.value("--stall-every", "DURATION", "period of the stalls, counted from the first traffic");
  f.value("--drop", "FRACTION", "udp echo: leave this fraction unanswered, e.g. 0.01 or 1%");
  f.value("--seed", "N", "seed for --delay ranges and --drop [1]");
  app.add_flag("--echo", o.echo, "send every message back");
}

// A fraction in plain decimals that reads back (strtod) as the same double: parse_fraction
// takes no exponent, which fmt's shortest form would use for small values.
std::string exact_decimal(double v) {
  for (int digits = 1;; ++digits) {
    std::string s = fmt::format("{:.{}f}", v, digits);
    if (std::strtod(s.c_str(), nullptr) == v || digits >= 1100) {
      while (s.size() > 1 && s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
      return s;
    }
  }
}

// "0.01" or "1%": a fraction from 0 to 1.
std::optional<double> parse_fraction(std::string s) {
  const bool percent = !s.empty() && s.back() == '%';
  if (percent) s.pop_back();
  if (s.empty() || s.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  if (percent) v /= 100;
  if (!(v >= 0 && v <= 1)) return std::nullopt;
  return v;
}

void validate_faults(Flags& f, Options& o) {
  ServeFaults& x = o.faults;
  if (f.given("--delay")) {
    const std::string& raw = f.raw("--delay");
    const auto dots = raw.find("..");
    auto lo = parse_duration(raw.substr(0, dots));
    auto hi = dots == std::string::npos ? lo : parse_duration(raw.substr(dots + 2));
    if (!lo || !hi || *lo > *hi || *hi > kHour)
      f.fail("--delay", "expected a duration up to 1h or a range MIN..MAX (e.g. 2ms, 1ms..3ms)");
    x.delay_min = *lo;
    x.delay_max = *hi;
    // HTTP always answers; the stream sinks answer only with --echo.
    if (x.delay_max > 0 && !o.echo && o.sink != "http")
      throw UsageError{"--delay: only with --echo or --sink http (it delays replies)"};
  }
  f.duration("--stall", x.stall, 1, kHour);
  f.duration("--stall-every", x.stall_every, 1, kYear);
  if (f.given("--stall") != f.given("--stall-every"))
    throw UsageError{"--stall and --stall-every go together: give both"};
  if (x.stall > 0 && x.stall >= x.stall_every)
    throw UsageError{fmt::format("--stall: must be shorter than --stall-every ({}), got \"{}\"",
                                 format_exact(x.stall_every), f.raw("--stall"))};
  if (f.given("--drop")) {
    auto v = parse_fraction(f.raw("--drop"));
    if (!v) f.fail("--drop", "expected a fraction from 0 to 1 (e.g. 0.01, 1%)");
    x.drop = *v;
    if (o.sink != "udp")
      throw UsageError{"--drop: only with --sink udp (a tcp stream cannot lose a message)"};
    if (!o.echo) throw UsageError{"--drop: only with --echo (it drops replies)"};
  }
  f.count("--seed", x.seed, 0, UINT64_MAX);
}

void validate_serve(Flags& f, Options& o) {
  f.choice("--sink", o.sink, {"tcp", "udp", "http"}, "sink");
  f.count("--port", o.port, 0, 65535);
  o.port_given = f.given("--port");
  if (f.given("--bind")) {
    if (!valid_hostname(f.raw("--bind"))) f.fail("--bind", "expected an IP address or host name");
    o.bind = f.raw("--bind");
  }
  f.path("--json", o.json_path);
  validate_faults(f, o);
}

}  // namespace

Options parse_options(int argc, const char* const* argv, std::string* text) {
  std::vector<std::string> args = go_style_to_gnu(argc, argv);
  Options o;
  if (!args.empty() && (args.front() == "serve" || args.front() == "run")) {
    if (args.front() == "serve") o.command = Command::Serve;
    args.erase(args.begin());
  }
  const bool serve = o.command == Command::Serve;

  CLI::App app{serve ? "Accepts load-tester traffic, optionally echoing it."
                     : "Sends messages at a constant rate from many simulated devices.",
               serve ? "load-tester serve" : "load-tester"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // Go: last wins
  app.allow_extras();  // unknown flags are reported below in our own words
  app.set_help_flag("-h,--help", "print this help");
  if (!serve)
    app.footer(
        "Commands: run (default), serve, merge r0.json r1.json ... [-o all.json], compare "
        "base.json new.json [--fail-if 'p99>+10%']. Single-dash long flags (-devices 10) work "
        "too.");
  bool version = false;
  app.add_flag("--version", version, "print the version");
  app.add_flag("-v,--verbose", o.verbose, "more detail");
  app.add_flag("-q,--quiet", o.quiet, "no live progress lines");

  Flags flags(app);
  serve ? add_serve_flags(flags, app, o) : add_run_flags(flags, app, o);

  std::reverse(args.begin(), args.end());  // CLI11 consumes the vector from the back
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    if (text) *text = app.help();
    o.command = Command::Help;
    return o;
  } catch (const CLI::ParseError& e) {
    throw UsageError{one_line(e)};
  }
  if (version) {
    if (text) *text = std::string("load-tester ") + LT_VERSION + "\n";
    o.command = Command::Version;
    return o;
  }
  check_extras(app, serve);
  serve ? validate_serve(flags, o) : validate_run(flags, o);
  return o;
}

std::string describe_options(const Options& o) {
  if (o.command == Command::Help || o.command == Command::Version)
    return o.command == Command::Help ? "help" : "version";
  if (o.command == Command::Serve) {
    const ServeFaults& x = o.faults;
    std::string s =
        fmt::format("serve --sink={} --bind={} --port={}{}{}{}{}", o.sink, o.bind, o.port,
                    o.echo ? " --echo" : "", o.verbose ? " --verbose" : "",
                    o.quiet ? " --quiet" : "", o.json_path.empty() ? "" : " --json=" + o.json_path);
    if (x.delay_max > 0)
      s += " --delay=" + (x.delay_min == x.delay_max
                              ? format_exact(x.delay_min)
                              : format_exact(x.delay_min) + ".." + format_exact(x.delay_max));
    if (x.stall > 0)
      s += fmt::format(" --stall={} --stall-every={}", format_exact(x.stall),
                       format_exact(x.stall_every));
    if (x.drop > 0) s += " --drop=" + exact_decimal(x.drop);
    if (x.any()) s += fmt::format(" --seed={}", x.seed);
    return s;
  }
  std::string s = fmt::format(
      "run --devices={} {}{} --duration={} --sink={}{} "
      "--arrival={} --seed={} --threads={} --backlog={} --inflight={} --timeout={} "
      "--connect-timeout={} --peer-timeout={} --update={}",
      o.devices,
      o.closed_loop ? "--rate=max"
      : o.rate      ? "--rate=" + format_exact(*o.rate)
                    : "--msg=" + format_exact(o.msg),
      o.sink == "http" ? "" : fmt::format(" --payload={}", o.payload), format_exact(o.duration),
      o.sink, o.sink == "kafka" ? "" : fmt::format(" --hostname={} --port={}", o.hostname, o.port),
      o.arrival == Arrival::Poisson ? "poisson" : "constant", o.seed, o.threads, o.backlog,
      o.inflight, format_exact(o.timeout), format_exact(o.connect_timeout),
      format_exact(o.peer_timeout), format_exact(o.update));
  s += fmt::format("{}{}{}{}{}", o.echo ? " --echo" : "", o.precise ? " --precise" : "",
                   o.noexec ? " --noexec" : "", o.verbose ? " --verbose" : "",
                   o.quiet ? " --quiet" : "");
  if (o.connect_rate) s += " --connect-rate=" + format_exact(*o.connect_rate);
  if (!o.source_ips.empty()) s += fmt::format(" --source-ip={}", fmt::join(o.source_ips, ","));
  s += describe_http(o) + describe_mqtt(o) + describe_nats(o) + describe_amqp(o) +
       describe_kafka(o) + describe_placement(o) + describe_broker(o) + describe_target(o);
  if (!o.json_path.empty()) s += " --json=" + o.json_path;
  if (!o.hdr_log_path.empty()) s += " --hdr-log=" + o.hdr_log_path;
  return s;
}

}  // namespace lt
