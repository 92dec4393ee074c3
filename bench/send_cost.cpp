// CPU time per message: load-tester's engine next to minimal raw-send loops doing the same sends
// to the same built-in server, in one process run, so the ratio holds on a noisy machine.
//
//   send_cost [load-tester flags...]     e.g. send_cost --sink udp --devices 1000 --msg 100
//
// Rows: "raw paced" sleeps to each send's absolute time (clock_nanosleep) and sends it: the least
// a paced sender must do. "raw unpaced" sends as fast as it can: the syscall floor.
// "load-tester" runs the real engine (run_load) in this process. The server runs in a child
// process so its CPU is not counted. CPU = user + system time of this process (all threads).
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/options.hpp"
#include "engine/run.hpp"
#include "metrics/hdr_histogram.hpp"
#include "net/socket_ops.hpp"
#include "serve/sink_server.hpp"
#include "sinks/wire_header.hpp"

using namespace lt;

namespace {

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The server lives in a child process; its port comes back through a pipe.
pid_t start_server(const std::string& sink, std::uint16_t& port) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    static std::atomic<bool> stop{false};
    signal(SIGTERM, [](int) { stop = true; });
    auto server = sink == "udp" ? make_udp_server("127.0.0.1", 0, false, {})
                                : make_tcp_server("127.0.0.1", 0, false, {});
    std::uint16_t p = server->port();
    [[maybe_unused]] auto r = write(fds[1], &p, sizeof p);
    server->run(stop);
    _exit(0);
  }
  close(fds[1]);
  [[maybe_unused]] auto r = read(fds[0], &port, sizeof port);
  close(fds[0]);
  return pid;
}

std::vector<int> open_connections(const Options& o, const Target& t) {
  std::vector<int> fds;
  const int type = o.sink == "udp" ? SOCK_DGRAM : SOCK_STREAM;
  for (std::uint64_t i = 0; i < o.devices; ++i) {
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    int one = 1;
    if (type == SOCK_STREAM) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), t.addr_len) != 0) {
      perror("connect");
      std::exit(1);
    }
    fds.push_back(fd);
  }
  return fds;
}

struct Row {
  std::string name;
  std::uint64_t messages;
  double cpu;
  Nanos lateness_p99 = -1;  // send time minus due time; -1 when not paced
  Nanos send_p99 = -1;      // duration of the send() call itself
};

// The same sends as the tool: tick g goes to connection g mod N at origin + g/R.
Row raw_loop(const Options& o, const Target& t, bool paced) {
  auto fds = open_connections(o, t);
  const Rate rate = o.total_rate();
  const std::uint64_t n = rate.ticks_before(o.duration);
  std::vector<unsigned char> msg(o.payload);
  HdrHistogram lateness, send_time;
  const double cpu0 = cpu_seconds();
  const Nanos origin = monotonic_now();
  for (std::uint64_t g = 0; g < n; ++g) {
    const Nanos due = origin + rate.tick_offset(g);
    if (paced) {
      timespec ts{time_t(due / kSecond), long(due % kSecond)};
      if (monotonic_now() < due) clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
    const Nanos now = monotonic_now();
    write_wire_header(msg.data(), WireHeader{std::uint32_t(o.payload), std::uint32_t(g % o.devices),
                                             g / o.devices, due, now});
    if (send(fds[g % o.devices], msg.data(), msg.size(), MSG_NOSIGNAL) < 0) perror("send");
    lateness.record(now - due);
    send_time.record(monotonic_now() - now);
  }
  const double cpu = cpu_seconds() - cpu0;
  for (int fd : fds) close(fd);
  if (!paced) return Row{"raw unpaced loop", n, cpu, -1, send_time.value_at_percentile(99)};
  return Row{"raw paced loop", n, cpu, lateness.value_at_percentile(99),
             send_time.value_at_percentile(99)};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<const char*> args(argv, argv + argc);
  for (const char* a : {"--quiet", "--threads", "1"}) args.push_back(a);
  Options o;
  try {
    o = parse_options(int(args.size()), args.data());
  } catch (const UsageError& e) {
    fmt::print(stderr, "send_cost: {}\n", e.message);
    return 2;
  }
  if (o.sink != "tcp" && o.sink != "udp") {
    fmt::print(stderr, "send_cost: --sink tcp or udp\n");
    return 2;
  }
  std::uint16_t port = 0;
  pid_t server = start_server(o.sink, port);
  o.port = port;
  Target target;
  std::string error;
  resolve_target(o.hostname, o.port, target, error);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // as the tool's workers do
  std::vector<Row> rows;
  rows.push_back(raw_loop(o, target, true));
  {
    // The tool's own summary goes to a scratch stream: only the table below is the output.
    std::FILE* saved = stdout;
    stdout = std::fopen("/dev/null", "w");
    char json_path[] = "/tmp/send_cost-XXXXXX";
    close(mkstemp(json_path));
    o.json_path = json_path;
    const double cpu0 = cpu_seconds();
    run_load(o);
    const double cpu = cpu_seconds() - cpu0;
    std::fclose(stdout);
    stdout = saved;
    std::ifstream in(json_path);
    const auto result = nlohmann::json::parse(in);
    unlink(json_path);
    rows.push_back(Row{"load-tester", result["counters"]["sent"].get<std::uint64_t>(), cpu,
                       result["histograms"]["lateness"]["percentiles"]["p99"].get<Nanos>()});
  }
  rows.push_back(raw_loop(o, target, false));
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);

  fmt::print("{} {} devices x {} msg/s, payload {} B, {} s, 1 sending thread\n", o.sink, o.devices,
             o.total_rate().per_second() / double(o.devices), o.payload, double(o.duration) / 1e9);
  fmt::print("{:<18}{:>10}{:>10}{:>12}{:>12}{:>16}{:>12}\n", "", "messages", "cpu s", "cpu/msg",
             "vs paced", "lateness p99", "send() p99");
  const double base = rows[0].cpu / double(rows[0].messages);
  auto us = [](Nanos v) { return v < 0 ? std::string("-") : fmt::format("{:.1f}us", v / 1e3); };
  for (const auto& r : rows) {
    const double per = r.cpu / double(r.messages);
    fmt::print("{:<18}{:>10}{:>10.3f}{:>10.2f}us{:>11.2f}x{:>16}{:>12}\n", r.name, r.messages,
               r.cpu, per * 1e6, per / base, us(r.lateness_p99), us(r.send_p99));
  }
  return 0;
}
