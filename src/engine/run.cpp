#include "engine/run.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "engine/interval_collector.hpp"
#include "engine/plan.hpp"
#include "engine/worker.hpp"
#include "metrics/hdr_log.hpp"
#include "net/socket_ops.hpp"
#include "net/tls.hpp"
#include "report/atomic_file.hpp"
#include "report/console.hpp"
#include "report/format.hpp"
#include "report/interval_spool.hpp"
#include "report/result_json.hpp"
#include "sinks/registry.hpp"

namespace lt {

namespace {

// The origin is set this far ahead so every worker has seen it before the first tick is due.
constexpr Nanos kStartLead = 5 * kMilli;

class SignalWatch {
 public:
  SignalWatch() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGHUP);
    // Blocked before the workers start, so only this thread ever takes these signals.
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SignalWatch() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

  // Waits up to `timeout` for a signal; true once one arrived. After the first, the signals are
  // unblocked in this thread with a handler that ends the process at once (a second Ctrl-C).
  bool wait(Nanos timeout) {
    if (seen_) {
      if (timeout > 0) sleep_for(timeout);
      return true;
    }
    timespec ts{time_t(timeout / kSecond), long(timeout % kSecond)};
    if (timeout < 0) ts = {0, 0};
    if (sigtimedwait(&set_, nullptr, &ts) > 0) {
      seen_ = true;
      exit_on_next_signal();
      pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
    }
    return seen_;
  }
  bool seen() const { return seen_; }

 private:
  static void sleep_for(Nanos ns) {
    timespec ts{time_t(ns / kSecond), long(ns % kSecond)};
    nanosleep(&ts, nullptr);
  }
  sigset_t set_, old_;
  bool seen_ = false;
};

struct OutputFiles {
  AtomicFile json, hdr_log;
  std::unique_ptr<HdrLogWriter> log;

  void open(const Options& o) {
    std::string error;
    if (!o.json_path.empty() && !json.open(o.json_path, error))
      throw UsageError{fmt::format("--json: cannot write \"{}\": {}", o.json_path, error)};
    if (!o.hdr_log_path.empty()) {
      if (!hdr_log.open(o.hdr_log_path, error))
        throw UsageError{fmt::format("--hdr-log: cannot write \"{}\": {}", o.hdr_log_path, error)};
      log = std::make_unique<HdrLogWriter>(hdr_log.stream());
    }
  }
};

// Current resident set of this process (the second field of /proc/self/statm, in pages).
std::uint64_t resident_kib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long long size = 0, resident = 0;
  if (f) {
    if (std::fscanf(f, "%llu %llu", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * std::uint64_t(sysconf(_SC_PAGESIZE)) / 1024;
}

// Peak resident set of this program (VmHWM). Not getrusage's ru_maxrss: that survives exec, so
// a tool started by a big parent (a Python test runner) would report the parent's peak.
std::uint64_t peak_resident_kib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) break;
  std::fclose(f);
  return kib;
}

IntervalPoint summarize(const IntervalReport& r, const RunResult& run, Nanos update) {
  IntervalPoint p;
  p.index = r.index;
  p.start = Nanos(r.index) * update;
  p.length = std::clamp<Nanos>(run.elapsed - p.start, 0, update);
  p.counters = r.data.counters;
  p.latency_p50 = r.data.latency.value_at_percentile(50);
  p.latency_p99 = r.data.latency.value_at_percentile(99);
  p.latency_max = r.data.latency.max();
  p.lateness_p99 = r.data.lateness.value_at_percentile(99);
  p.connected = r.connected;
  p.rss_kib = resident_kib();
  p.latency_hdr = r.data.latency.encode_base64();
  return p;
}

}  // namespace

int run_load(const Options& o) {
  const SinkInfo* sink = find_sink(o.sink);
  if (!sink) throw UsageError{fmt::format("--sink: unknown sink \"{}\"", o.sink)};
  Target target;
  std::string error;
  // Kafka's producers find their brokers themselves (--brokers, then the cluster's metadata).
  if (o.sink != "kafka" && !resolve_target(o.hostname, o.port, target, error))
    throw UsageError{
        fmt::format("{}: cannot resolve \"{}\": {}", o.target_flag, o.hostname, error)};
  if (!resolve_sources(o.source_ips, target, error))
    throw UsageError{fmt::format("--source-ip: {}", error)};
  ensure_fd_limit(o);
  if (o.tls.enabled) {
    // Each worker builds its own context; a bad CA file is a usage error found before any.
    try {
      TlsContext check(o.tls);
    } catch (const std::runtime_error& e) {
      throw UsageError{e.what()};
    }
  }
  if (o.tls.insecure)
    fmt::print(stderr,
               "load-tester: warning: --insecure: the server's certificate is not verified\n");
  // The same switch reached through librdkafka's own properties gets the same warning.
  for (const auto& [name, value] : o.kafka.properties)
    if ((name == "enable.ssl.certificate.verification" && value == "false") ||
        (name == "ssl.endpoint.identification.algorithm" && value == "none"))
      fmt::print(stderr, "load-tester: warning: -X {}={}: the brokers' certificates are not {}\n",
                 name, value, value == "none" ? "matched to their names" : "verified");
  if (o.noexec) {
    print_plan(stdout, o);
    return 0;
  }
  OutputFiles files;
  files.open(o);

  RunResult run;
  run.options = &o;
  run.target = o.sink == "kafka" ? o.kafka.brokers : format_address(target.addr);
  run.workers = worker_count(o);
  SignalWatch signals;
  MonotonicClock clock;
  run.rss_before_devices_kib = resident_kib();
  std::vector<std::unique_ptr<Worker>> workers;
  for (const auto& shard : make_shards(o, run.workers))
    workers.push_back(std::make_unique<Worker>(o, target, *sink, shard, clock));
  std::vector<std::thread> threads;
  const Nanos connect_start = clock.now();
  for (auto& w : workers)
    threads.emplace_back([&w, connect_start] { w->run_guarded(connect_start); });

  auto connected = [&] {
    std::uint32_t n = 0;
    for (auto& w : workers) n += w->connected();
    return n;
  };
  // Connect phase: start once every device has connected or failed once, or at the timeout
  // (counted from when the last paced connect began).
  const Nanos last_open =
      o.connect_rate ? connect_start + o.connect_rate->tick_offset(o.devices - 1) : connect_start;
  for (;;) {
    std::uint64_t settled = 0;
    for (auto& w : workers) settled += w->settled();
    if (settled >= o.local_devices() || clock.now() - last_open >= o.connect_timeout) break;
    if (signals.wait(kMilli)) break;
  }
  Nanos origin = clock.now() + kStartLead, send_from = 0;
  run.start_unix_ns = realtime_now() + kStartLead;
  if (o.start_at && !signals.seen()) {
    // Every rank waits for the same wall-clock instant, then runs on its own monotonic clock.
    // A rank already past it starts from it anyway and counts what it missed.
    // Woken up to 2 leads before it (a wake-up overshoots), the workers then wait the rest.
    while (!signals.seen() && *o.start_at - realtime_now() > 2 * kStartLead)
      signals.wait(std::min<Nanos>(*o.start_at - realtime_now() - 2 * kStartLead, 50 * kMilli));
    const Nanos mono_now = clock.now(), real_now = realtime_now();
    origin = mono_now + (*o.start_at - real_now);
    run.start_unix_ns = *o.start_at;
    run.start_late_ns = std::max<Nanos>(0, real_now + kStartLead - *o.start_at);
    if (run.start_late_ns > 0) {
      send_from = mono_now + kStartLead;
      fmt::print(stderr, "load-tester: started {} after --start-at: what was due is missed\n",
                 format_duration(run.start_late_ns));
    }
  }
  run.connect_phase = origin - connect_start;
  run.connected_at_start = connected();
  run.rss_connected_kib = resident_kib();
  if (o.verbose)
    fmt::print(stderr, "options: {}\nconnected {}/{} devices in {:.1f} ms; starting\n",
               describe_options(o), run.connected_at_start, o.local_devices(),
               double(run.connect_phase) / 1e6);
  for (auto& w : workers) w->begin(origin, send_from);
  if (files.log)
    files.log->write_header(run.start_unix_ns,
                            fmt::format("load-tester {} {} devices", o.sink, o.devices));

  IntervalCollector collector(workers.size());
  // Only the result file needs the series; it is kept on disk, not in memory.
  std::optional<IntervalSpool> spool;
  if (files.json.is_open()) spool.emplace(o.json_path);
  bool stop_sent = signals.seen();
  if (stop_sent) {  // interrupted while connecting
    run.interrupted = true;
    fmt::print(stderr, "\ninterrupted while connecting: stopping\n");
    for (auto& w : workers) w->request_stop();
  }
  Nanos next_look = origin + o.update + kMilli;
  while (!collector.all_finished()) {
    const Nanos now = clock.now();
    if (signals.wait(std::min(next_look - now, Nanos(50 * kMilli))) && !stop_sent) {
      stop_sent = true;
      run.interrupted = true;
      run.elapsed = clock.now() - origin;
      fmt::print(stderr, "\ninterrupted: stopping (press Ctrl-C again to exit at once)\n");
      for (auto& w : workers) w->request_stop();
    }
    // Reports are collected on every turn, so the end of a run is seen within 50 ms.
    if (clock.now() >= next_look) next_look += o.update;
    if (!stop_sent)
      run.elapsed = std::min(clock.now() - origin, o.duration ? o.duration : INT64_MAX);
    for (std::size_t i = 0; i < workers.size(); ++i)
      for (auto& r : workers[i]->take_reports()) collector.add(i, std::move(r));
    while (auto r = collector.next_complete()) {
      IntervalPoint p = summarize(*r, run, o.update);
      run.total.add(r->data);
      if (files.log) {
        const Nanos length = std::max<Nanos>(p.length, 1);
        files.log->write_interval("", p.start, length, r->data.latency);
        files.log->write_interval("service", p.start, length, r->data.service);
        files.log->write_interval("lateness", p.start, length, r->data.lateness);
      }
      if (!o.quiet && p.length > 0) print_progress(stdout, run, p, o.local_devices());
      if (spool) spool->add(p);
    }
  }
  for (auto& t : threads) t.join();
  // The sending window ends when the last worker stopped dispatching: a little after the
  // planned end, so the achieved rate is never flattered.
  for (auto& w : workers) run.elapsed = std::max(run.elapsed, w->dispatch_end() - origin);
  Nanos first = INT64_MAX, last = INT64_MIN;
  for (auto& w : workers) {
    const auto phase = w->connect_phase();
    run.phase_connects += phase.count;
    first = std::min(first, phase.first);
    last = std::max(last, phase.last);
  }
  if (run.phase_connects > 0) run.phase_connect_span = last - first;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  run.max_rss_kib = peak_resident_kib();
  run.cpu_seconds = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;

  print_summary(stdout, run);
  // Errors under load are results, not failures; but a run that could send nothing at all (the
  // target down, a certificate that does not verify) must not pass a script's `&&`.
  int code = 0;
  if (run.total.counters[Counter::Sent] == 0 && run.total.counters.errors() > 0) {
    fmt::print(stderr, "load-tester: nothing was sent: every connection attempt failed ({})\n",
               errors_by_kind(run.total.counters));
    code = 1;
  }
  for (std::size_t i = 0; i < workers.size(); ++i)
    if (!workers[i]->failure().empty()) {
      fmt::print(stderr, "load-tester: worker {} failed: {}; its devices stopped then\n", i,
                 workers[i]->failure());
      run.failures.push_back(fmt::format("worker {}: {}", i, workers[i]->failure()));
      code = 1;
    }
  if (files.json.is_open()) {
    // fwrite, not fmt::print, whose exception on a full disk would skip the error below; a
    // short write leaves the stream's error flag set, which commit() reports.
    if (!spool->write_result(result_to_json(run), files.json.stream(), error) ||
        !files.json.commit(error)) {
      fmt::print(stderr, "load-tester: --json: could not write \"{}\": {}\n", o.json_path, error);
      code = 1;
    }
  }
  if (files.hdr_log.is_open() && !files.hdr_log.commit(error)) {
    fmt::print(stderr, "load-tester: --hdr-log: could not write \"{}\": {}\n", o.hdr_log_path,
               error);
    code = 1;
  }
  return code;
}

}  // namespace lt
