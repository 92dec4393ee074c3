#include "serve/serve.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "net/socket_ops.hpp"
#include "report/atomic_file.hpp"
#include "serve/sink_server.hpp"

namespace lt {

namespace {

int serve_with(const Options& o) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server thread exists

  AtomicFile json;
  std::string error;
  if (!o.json_path.empty() && !json.open(o.json_path, error))
    throw UsageError{fmt::format("--json: cannot write \"{}\": {}", o.json_path, error)};
  // A name that does not resolve is bad input, said as the client says it; failing to listen
  // (a port in use) is this machine's state, exit 1 below.
  if (Target bind; !resolve_target(o.bind, o.port, bind, error))
    throw UsageError{fmt::format("--bind: cannot resolve \"{}\": {}", o.bind, error)};
  // Each peer connection is a descriptor: take as many as the system allows (fs.nr_open).
  raise_fd_limit(1u << 20);
  std::unique_ptr<SinkServer> server;
  try {
    if (o.sink == "udp")
      server = make_udp_server(o.bind, o.port, o.echo, o.faults);
    else if (o.sink == "http")
      server = make_http_server(o.bind, o.port, o.faults);
    else
      server = make_tcp_server(o.bind, o.port, o.echo, o.faults);
  } catch (const std::runtime_error& e) {
    fmt::print(stderr, "load-tester serve: {}\n", e.what());
    return 1;
  }
  fmt::print("listening on {} {}:{}{}\n", o.sink, o.bind, server->port(), o.echo ? " (echo)" : "");
  if (o.verbose) fmt::print("options: {}\n", describe_options(o));
  std::fflush(stdout);

  std::atomic<bool> stop{false};
  std::thread thread([&] { server->run(stop); });
  int sig = 0;
  sigwait(&set, &sig);
  stop.store(true);
  // A second signal while draining ends the process at once.
  exit_on_next_signal();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  thread.join();

  const ServerStats& s = server->stats();
  fmt::print(
      "received {} messages, {} bytes, {} malformed; {} connections, {} closed; echoed {} "
      "bytes; dropped {}; {} stalls\n",
      s.messages, s.bytes, s.malformed, s.connections, s.closed, s.echoed_bytes, s.dropped,
      s.stalls);
  if (json.is_open()) {
    nlohmann::json j = {{"sink", o.sink},
                        {"port", server->port()},
                        {"echo", o.echo},
                        {"messages", s.messages},
                        {"bytes", s.bytes},
                        {"malformed", s.malformed},
                        {"connections", s.connections},
                        {"closed", s.closed},
                        {"echoed_bytes", s.echoed_bytes},
                        {"dropped", s.dropped},
                        {"stalls", s.stalls},
                        {"peer_addresses", s.peer_addresses}};
    std::uint64_t seen = 0, fewest = UINT64_MAX, most = 0;
    for (std::uint32_t n : s.per_device)
      if (n) {
        ++seen;
        fewest = std::min<std::uint64_t>(fewest, n);
        most = std::max<std::uint64_t>(most, n);
      }
    j["devices_seen"] = seen;  // wire frames only: 0 for http
    j["device_messages_min"] = seen ? fewest : 0;
    j["device_messages_max"] = most;
    j["untracked_devices"] = s.untracked_devices;
    fmt::print(json.stream(), "{}\n", j.dump(2));
    if (!json.commit(error)) {
      fmt::print(stderr, "load-tester serve: --json: {}\n", error);
      return 1;
    }
  }
  return 0;
}

}  // namespace

int run_serve(const Options& o) {
  return serve_with(o);
}

}  // namespace lt
