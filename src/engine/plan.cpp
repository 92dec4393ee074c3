#include "engine/plan.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "core/schedule.hpp"
#include "kafka/config.hpp"
#include "net/socket_ops.hpp"
#include "report/format.hpp"

namespace lt {

namespace {
// File descriptors the process needs besides one per device: stdio, epoll and eventfd per
// worker, result files, and some slack.
constexpr std::uint64_t kSpareFds = 64;

// Median overshoot of a short epoll_pwait2 sleep: what default waiting adds to every send.
Nanos measure_wake_overshoot() {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Nanos> over;
  for (int i = 0; i < 21; ++i) {
    const Nanos want = 20 * kMicro;
    const Nanos t0 = monotonic_now();
    timespec ts{0, long(want)};
    epoll_event ev;
    epoll_pwait2(ep, &ev, 1, &ts, nullptr);
    over.push_back(monotonic_now() - t0 - want);
  }
  close(ep);
  std::nth_element(over.begin(), over.begin() + 10, over.end());
  return over[10];
}

// Schedule steps plus one small loopback datagram per message, sent from one socket of ours to
// another in this process (drained as we go): an upper bound on what one worker can send, that
// reaches no target.
double estimate_sends_per_core() {
  int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  double rate = 0;
  if (bind(rx, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
      getsockname(rx, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
      connect(tx, reinterpret_cast<sockaddr*>(&addr), len) == 0) {
    ScheduleShape shape{Rate{1'000'000, 1}, 1000, 0, 1, 1000};
    Schedule s(shape, 0);
    char buf[64] = {};
    const int n = 20'000;
    const Nanos t0 = monotonic_now();
    for (int i = 0; i < n; ++i) {
      buf[0] = char(s.peek().seq);
      [[maybe_unused]] auto w = send(tx, buf, sizeof buf, 0);
      s.advance();
      if (i % 32 == 31)
        while (recv(rx, buf, sizeof buf, 0) > 0) {
        }
    }
    const Nanos t = monotonic_now() - t0;
    rate = t > 0 ? double(n) * 1e9 / double(t) : 0.0;
  }
  close(rx);
  close(tx);
  return rate;
}
}  // namespace

std::string target_host(const Options& o) {
  if (o.sink != "kafka") return o.hostname;
  // The first bootstrap broker stands for the cluster.
  const auto hosts = kafka::broker_hosts(o.kafka.brokers);
  return hosts.empty() ? o.hostname : hosts.front();
}

bool loopback_target(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "localhost.") return true;
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

unsigned worker_count(const Options& o) {
  unsigned w = o.threads;
  if (w == 0) {
    // A target on this machine needs a core too: workers competing with it for every core
    // would make both late (on 2 cores, 2 workers + a local server double the send lateness).
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    w = loopback_target(target_host(o)) ? std::max(1u, cores - 1) : cores;
  }
  return unsigned(std::min<std::uint64_t>(w, o.local_devices()));
}

std::vector<WorkerShard> make_shards(const Options& o, unsigned workers) {
  std::vector<WorkerShard> shards;
  // Device d belongs to rank d mod size, and within the rank to worker (d / size) mod workers:
  // worker w of rank r owns r + size * w, then every size * workers-th id after it. Over all
  // ranks and workers that is every device exactly once, with the single machine's schedule.
  const std::uint64_t stride = std::uint64_t(o.size) * workers;
  for (unsigned w = 0; w < workers; ++w) {
    const std::uint64_t first = o.rank + std::uint64_t(o.size) * w;
    const std::uint64_t n = first < o.devices ? (o.devices - first + stride - 1) / stride : 0;
    shards.push_back(WorkerShard{first, stride, std::uint32_t(n)});
  }
  return shards;
}

void ensure_fd_limit(const Options& o) {
  // Kafka devices are streams over a few producer connections; elsewhere a device is one
  // socket, and the tool's own subscribers, consumers and responders are more.
  const std::uint64_t devices = o.sink == "kafka" ? 0 : o.local_devices();
  const std::uint64_t helpers = o.subscribers + o.nats.responders;
  // Descriptors the process was started with (a parent's leaked ones) count against the limit.
  const std::uint64_t inherited = open_fd_count();
  const std::uint64_t spare = kSpareFds + helpers + inherited;
  const std::uint64_t need = devices + spare;
  const rlimit lim = raise_fd_limit(need);
  if (lim.rlim_cur < need)
    throw UsageError{fmt::format(
        "--devices: {} connections need {} file descriptors ({} open already) but the limit is "
        "{} (hard limit {}); use at most {} devices or raise the limit (ulimit -n)",
        devices + helpers, need, inherited, lim.rlim_cur, lim.rlim_max,
        lim.rlim_cur > spare ? lim.rlim_cur - spare : 0)};
}

void print_plan(std::FILE* out, const Options& o) {
  const unsigned workers = worker_count(o);
  const auto shards = make_shards(o, workers);
  const double total = o.total_rate().per_second();
  const double per_device = total / double(o.devices);
  if (o.sink == "kafka")
    fmt::print(out, "plan: kafka to brokers {}\n", o.kafka.brokers);
  else
    fmt::print(out, "plan: {} to {}:{}{}\n", o.sink, o.hostname, o.port, o.echo ? " (echo)" : "");
  if (o.size > 1)
    fmt::print(out,
               "  rank         {} of {} (from {}): devices {}, {}, ... of {}; {} of the {}/s in "
               "total\n",
               o.rank, o.size, o.placement, o.rank, o.rank + o.size, o.devices,
               format_rate(o.local_rate().per_second()), format_rate(o.total_rate().per_second()));
  fmt::print(out, "  devices      {} over {} workers ({} to {} per worker)\n", o.local_devices(),
             workers, shards.back().devices, shards.front().devices);
  if (o.start_at)
    fmt::print(out, "  start at     {} (Unix {}.{:09} s), after connecting\n",
               format_utc(*o.start_at), *o.start_at / kSecond, *o.start_at % kSecond);
  if (o.sink == "http")
    fmt::print(out, "  request      {} {}{} ({} B body, pipeline {})\n", o.http.method,
               o.tls.enabled ? "https " : "", o.http.target, o.http.body.size(), o.http.pipeline);
  if (o.sink == "mqtt")
    fmt::print(out, "  mqtt         {} QoS {}{} to {}, {} in flight per device, {} subscriber(s)\n",
               o.mqtt.version == 5 ? "5.0" : "3.1.1", o.mqtt.qos, o.mqtt.retain ? " retained" : "",
               o.mqtt.topic, o.inflight, o.subscribers);
  if (o.sink == "nats") {
    fmt::print(
        out, "  nats         {} to {}{}, PING every {}", nats_mode_name(o.nats.mode),
        o.nats.subject,
        o.nats.headers.empty() ? "" : fmt::format(" with {} header(s)", o.nats.headers.size()),
        format_duration(o.nats.ping_interval));
    if (o.nats.mode == NatsMode::Request)
      fmt::print(out, ", {} in flight per device, {}", o.inflight,
                 o.nats.responders
                     ? fmt::format("{} responder(s) inside the tool", o.nats.responders)
                     : std::string("answered by an existing service"));
    if (o.nats.mode == NatsMode::E2e) fmt::print(out, ", {} subscriber(s)", o.subscribers);
    fmt::print(out, "\n");
  }
  if (o.sink == "amqp") {
    const AmqpOptions& a = o.amqp;
    fmt::print(
        out, "  amqp         vhost {} as {}, to {} with key {}{}{}, confirms {}", a.vhost,
        o.auth.username, a.exchange.empty() ? "the default exchange" : "exchange " + a.exchange,
        a.key_template(), o.persistent ? ", persistent" : "", a.mandatory ? ", mandatory" : "",
        a.confirm ? fmt::format("on ({} in flight per device)", o.inflight) : "off");
    if (a.declare)
      fmt::print(out, "\n               declares{} queue {}{}{}",
                 a.exchange.empty() || a.exchange.rfind("amq.", 0) == 0
                     ? ""
                     : fmt::format(" {} exchange {},", a.exchange_type, a.exchange),
                 a.queue, a.durable ? ", durable" : "", a.auto_delete ? ", auto-delete" : "");
    if (o.subscribers)
      fmt::print(out, "\n               {} consumer(s) of {}", o.subscribers, a.queue);
    fmt::print(out, "\n");
  }
  if (o.sink == "kafka") {
    const KafkaOptions& k = o.kafka;
    fmt::print(out, "  kafka        topic {} key {}, acks {}, {}, {} in flight per device", k.topic,
               k.key.empty() ? "(none)" : k.key, k.acks,
               k.producers ? fmt::format("{} producer(s)", k.producers) : "a producer per worker",
               o.inflight);
    for (const auto& [name, value] : k.properties)
      fmt::print(out, "\n               -X {}={}", name, value);
    if (!k.config_file.empty())
      fmt::print(out, "\n               {} properties from {} (values not shown)",
                 k.file_properties.size(), k.config_file);
    if (o.subscribers)
      fmt::print(out, "\n               {} consumer(s) reading the topics back", o.subscribers);
    fmt::print(out, "\n");
  }
  if (o.closed_loop) {
    fmt::print(out, "  rate         closed loop: each device sends when a reply frees a slot\n");
  } else {
    fmt::print(out, "  rate         {} per device, {} in total, {} arrivals\n",
               format_rate(per_device), format_rate(total),
               o.arrival == Arrival::Poisson ? "poisson" : "constant");
    fmt::print(out, "  interval     {} per device, {} between sends in total\n",
               format_duration(Nanos(1e9 / per_device)), format_duration(Nanos(1e9 / total)));
  }
  fmt::print(out, "  duration     {}{}\n",
             o.duration ? format_duration(o.duration) : "until interrupted",
             o.duration && !o.closed_loop
                 ? fmt::format(" ({} messages)", o.total_rate().ticks_before(o.duration))
                 : "");
  fmt::print(out, "  payload      {} B; backlog {} per device; update every {}\n", o.payload,
             o.backlog, format_duration(o.update));
  fmt::print(out, "  waiting      {}\n",
             o.precise ? "precise: epoll_pwait2 to 50us before each send, then spin"
                       : "epoll_pwait2 with 1ns timer slack");
  const Nanos overshoot = measure_wake_overshoot();
  const double per_core = estimate_sends_per_core();
  if (o.closed_loop) return;  // no rate to judge
  const double per_worker = total / workers;
  fmt::print(out,
             "  this machine {} cores; sleep overshoot (median of 21 20us sleeps) {}; "
             "~{} loopback sends per core\n",
             std::thread::hardware_concurrency(), format_duration(overshoot),
             format_rate(per_core));
  // Half of a core's raw syscall rate leaves room for the loop, the reads and the reporter.
  const bool feasible = per_worker <= per_core * 0.5;
  fmt::print(out, "  feasible     {} ({} per worker needed)\n",
             feasible ? "likely" : "doubtful: fewer messages per worker or more workers/machines",
             format_rate(per_worker));
}

}  // namespace lt
