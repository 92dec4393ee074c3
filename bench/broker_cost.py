#!/usr/bin/python3
"""What a broker sink costs, in the tool and in the broker, against one private broker, in one run.

Usage: bench/broker_cost.py BROKER [BUILD_DIR] [--duration 5s] [--repeats 3] [--json OUT]
       BROKER: mqtt (one mosquitto), nats (one nats-server), amqp (one RabbitMQ node) or kafka
       (librdkafka's mock cluster, tests/tools/kafka_mock.cpp: not a Kafka broker, so its CPU is
       only a mock's, and the figures are the tool's)

One broker from the tests' harness serves every run: mqtt, tests/integration/mosquitto.py
(persistence off, no queue or in-flight limits, TCP_NODELAY, $SYS every second); nats,
tests/integration/nats.py (no JetStream, no debug or trace, default limits); amqp,
tests/integration/rabbitmq.py (3.10 from Debian, no plugins, classic queues, its own epmd).
Each repetition
runs every kind of the broker once, in this order, so the kinds alternate and share whatever the
machine is doing at the time (each: load-tester --url URL FLAGS --duration D):
  mqtt  QoS 0                 --devices 100 --msg 1000 --qos 0
        QoS 1                 ... --qos 1                          (latency to the broker's PUBACK)
        QoS 0, 1 subscriber   ... --qos 0 --subscribers 1          (end to end, through the broker)
        QoS 1 closed loop     --devices 100 --rate max --qos 1 --inflight 16
  nats  pub                   --devices 100 --msg 1000             (confirmed by PING/PONG)
        request               --devices 100 --msg 200 --nats-mode request --responders 2
                              (round trips; the 2 responder connections run inside the tool, so
                              their CPU is part of the tool's)
        e2e, 1 subscriber     --devices 100 --msg 1000 --nats-mode e2e --subscribers 1
        request closed loop   --devices 100 --rate max --nats-mode request --responders 2
                              --inflight 16
  amqp  confirms              --devices 100 --msg 100 --queue lt-bench --declare
                              (latency to the broker's basic.ack; the queue is purged before
                              every run, so it never grows from run to run)
        no confirms           ... --confirm off                    (latency to the write)
        confirms, 1 consumer  ... --queue 'lt-bench.{device}' --declare --auto-delete
                              --consumers 1                        (end to end)
        confirms closed loop  --devices 100 --rate max --inflight 64 --queue lt-bench
                              --declare: the highest confirmed rate
  kafka acks all              --devices 100 --msg 100 --topic lt-bench (to the delivery report)
        acks all, 100k/s      ... --msg 1000
        acks all, 1 consumer  ... --msg 100 --consumers 1              (end to end)
        acks all closed loop  --devices 100 --rate max --inflight 1000: the highest delivered
                              rate
Per run: the achieved rate (rate.achieved), the counters (sent, completed, lost, missed, and
e2e_received with subscribers), latency p50/p99 (histograms.latency; histograms.e2e with
subscribers), the tool's CPU per message sent, both as the process's user + system time from
wait4's rusage and as the tool's own run.cpu_seconds, and the broker's CPU per message sent
(utime + stime of its process from /proc/PID/stat, which covers all its threads: nats-server is
a multi-threaded Go program; from just before the tool starts to just after it exits). nats also
shows what the server counted (/varz in_msgs and out_msgs, per run); amqp, the messages
its queues gained over each run (rabbitmqctl list_queues: equal to sent without a consumer, 0
with one). RabbitMQ's CPU is beam.smp's, all its scheduler threads. The table shows the median
of the repetitions and each run's value, with the load average and the CPU time the hypervisor
stole meanwhile; the log on stderr (and --json) also says how much CPU time other processes
took during each run (/proc/stat's user + system time less the tool's and the broker's).

nats has one more, optional, section: nats.js's benchmark (the npm package `nats` 2.x ships it
as examples/bench.js; there is no `nats bench` CLI in Debian 12 or on npm) beside the tool, on
one connection with 64-byte payloads, against the same server: `bench.js --pub` (unpaced, as
fast as it can) beside the tool paced at bench.js's rate for the same message count and beside
the tool paced far above it (--msg 3M: how far one connection goes), and `bench.js --req --rep`
(one request at a time, the replier on the same connection) beside a closed loop of one request
at a time (--rate max --inflight 1 --responders 1). Found at $LT_NATS_JS (the `nats` package's
directory) or BUILD_DIR/nats-js/node_modules/nats (bench/run installs it there:
npm install --prefix build/nats-js nats@2.29.3 minimist@1.2.8); skipped with a message when
node or the package is absent.

Skips (exit 0, with a message on stdout) when the broker is not installed."""
import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_vs_wrk import duration_seconds, run_measured  # noqa: E402  (same measuring)


def load_helper(filename):
    """A harness of tests/integration (mosquitto.py, nats.py), loaded by path: it does not depend
    on pytest; it imports its siblings (server_process.py, nginx.py), so that directory is on
    sys.path while it loads."""
    directory = ROOT / "tests" / "integration"
    spec = importlib.util.spec_from_file_location(f"lt_{Path(filename).stem}_helper",
                                                  directory / filename)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(directory))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(directory))
    return module


class Broker:
    """What differs between the brokers; the measuring below is the same for all.

    kinds: name -> (title, the flags beyond --url and --duration), in the order they run;
    closed_loop, e2e: the kind run with --rate max, and the kind with e2e columns;
    server: the server's name in the table; install: where to get it (the skip message);
    counts(server): its own message counters, or None; extra(tool, server, tmp, repeats, log,
    build): an optional section run against the same server after the kinds, or None;
    reset(server): called before every run, or None."""

    def __init__(self, name, server, helper, find, start, version, install, kinds, closed_loop,
                 e2e, counts=None, extra=None, reset=None):
        self.name, self.server, self.helper_file = name, server, helper
        self._find, self._start, self._version = find, start, version
        self.install, self.kinds, self.closed_loop, self.e2e = install, kinds, closed_loop, e2e
        self.counts, self.extra, self.reset = counts, extra, reset
        self._helper = None

    @property
    def helper(self):
        if self._helper is None:
            self._helper = load_helper(self.helper_file)
        return self._helper

    def binary(self):
        return self._find(self.helper)

    def version(self):
        return self._version(self.binary())

    def start(self, tmp):
        """The harness's server, a context manager with .url() and .proc.pid."""
        return self._start(self.helper, tmp)


def mosquitto_version(binary):
    out = subprocess.run([binary, "-h"], capture_output=True, text=True).stdout
    return out.splitlines()[0].replace("mosquitto version ", "")


def nats_server_version(binary):
    out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    return out.strip().split()[-1].lstrip("v")  # "nats-server: v2.9.10"


def nats_counts(server):
    varz = server.varz()
    return {"in_msgs": varz["in_msgs"], "out_msgs": varz["out_msgs"]}


def rabbitmq_version(binary):
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "rabbitmq-server"],
                         capture_output=True, text=True).stdout
    return out.split("-")[0] or "?"


def rabbitmq_start(helper, tmp):
    """The harness's node; url() names it the way the tool takes it (guest, no password in the
    URL: the tool refuses one there)."""
    node = helper.RabbitMq(tmp)
    node.url = lambda: f"amqp://127.0.0.1:{node.port}/"
    return node


def rabbitmq_counts(server):
    return {"queued": sum(server.queues().values())}


def rabbitmq_reset(server):
    if "lt-bench" in server.queues():
        server.purge_queue("lt-bench")


def kafka_find(helper):
    return helper.MOCK if Path(helper.MOCK).exists() else None


def kafka_version(binary):
    out = subprocess.run(["pkg-config", "--modversion", "rdkafka"], capture_output=True,
                         text=True).stdout
    return f"(librdkafka {out.strip() or '?'} mock cluster, 3 brokers)"


class KafkaCluster:
    """The tests' mock cluster as the context manager measure() wants."""

    def __init__(self, helper):
        self.mock = helper.KafkaMock(3)
        self.proc = self.mock.proc

    def url(self):
        return ["--sink", "kafka", "--brokers", self.mock.bootstrap]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.mock.stop()


def process_cpu(pid):
    """utime + stime of a process (all its threads), in seconds, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def cpu_ticks():
    """(busy, steal) of /proc/stat's cpu line: the ticks processes ran (user, nice, system;
    not irq and softirq, which no process is charged with) and the CPU time the hypervisor gave
    to others (the 8th value)."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    return v[0] + v[1] + v[2], v[7]


def loadavg():
    return Path("/proc/loadavg").read_text().split()[:3]


class ToolFailed(RuntimeError):
    pass


def tool_run(tool, url, flags, duration, server_pid, tmp, counts=None):
    """One load-tester run; returns its figures. counts: a function returning the server's own
    counters (a dict), whose changes over the run are kept as "server_counts". Raises ToolFailed
    with its last message when it wrote no result."""
    path = Path(tmp) / f"run-{time.monotonic_ns()}.json"
    target = url if isinstance(url, list) else ["--url", url]  # kafka: --sink kafka --brokers
    args = [tool, *target, *flags, "--duration", duration, "--quiet", "--json", str(path)]
    counts0 = counts() if counts else None
    server0, (busy0, steal0), t0 = process_cpu(server_pid), cpu_ticks(), time.monotonic()
    rc, out, err, cpu, wall = run_measured(args, duration_seconds(duration) + 60)
    server = process_cpu(server_pid) - server0
    (busy, steal), capacity = cpu_ticks(), CLK_TCK * (time.monotonic() - t0) * os.cpu_count()
    steal = (steal - steal0) / capacity
    # what the rest of the machine ran meanwhile, as a share of its CPU time (log and --json only)
    others = max(0.0, (busy - busy0) / capacity - (cpu + server) * CLK_TCK / capacity)
    server_counts = {k: v - counts0[k] for k, v in counts().items()} if counts else None
    if not path.exists():
        lines = [line for line in (err + out).splitlines() if line.strip()]
        raise ToolFailed(f"exit {rc}: {lines[-1] if lines else 'no output'}")
    result = json.loads(path.read_text())
    c, h = result["counters"], result["histograms"]
    sent = c["sent"]

    def pct(name, p):
        hist = h.get(name)
        return hist["percentiles"][p] / 1e3 if hist and hist.get("count") else float("nan")

    per_msg = (lambda s: s / sent * 1e6) if sent else (lambda s: float("nan"))
    return {
        "rc": rc, "sent": sent, "completed": c["completed"], "lost": c["lost"],
        "missed": c["missed"], "errors": sum(v for k, v in c.items() if k.startswith("err_")),
        "e2e_received": c.get("e2e_received", 0), "e2e_duplicates": c.get("e2e_duplicates", 0),
        "rate": result["rate"]["achieved"], "target": result["rate"]["target"],
        "workers": result["run"]["workers"],
        "per_write": sent / c["writes"] if c.get("writes") else float("nan"),
        "cpu": cpu, "own_cpu": result["run"]["cpu_seconds"], "broker_cpu": server,
        "cpu_us": per_msg(cpu), "own_cpu_us": per_msg(result["run"]["cpu_seconds"]),
        "broker_cpu_us": per_msg(server),
        "p50_us": pct("latency", "p50"), "p99_us": pct("latency", "p99"),
        "mean_us": h["latency"]["mean"] / 1e3 if h.get("latency", {}).get("count") else
        float("nan"),
        "e2e_p50_us": pct("e2e", "p50"), "e2e_p99_us": pct("e2e", "p99"),
        "server_counts": server_counts, "wall": wall, "steal": steal, "others": others,
    }


def measure(broker, tool, duration="5s", repeats=3, log=print, build=None):
    """Runs every kind of `broker` `repeats` times, alternating; returns {"runs": {kind:
    [figures]}, "server", "server_version", "failed": reason or None, "duration", "repeats",
    "loadavg_before", "loadavg_after", "started", "nproc"}, and "extra" (the broker's optional
    section's results) when it has one."""
    results = {"broker": broker.name, "runs": {k: [] for k in broker.kinds},
               "server": broker.server, "server_version": broker.version(), "failed": None,
               "duration": duration, "repeats": repeats,
               "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "loadavg_before": loadavg(), "nproc": os.cpu_count()}
    if not Path(tool).exists():
        results["failed"] = f"{tool} not built"
        return results
    with tempfile.TemporaryDirectory(prefix=f"lt-{broker.name}-bench-") as tmp, \
            broker.start(tmp) as server:
        url, pid = server.url(), server.proc.pid
        counts = (lambda: broker.counts(server)) if broker.counts else None
        for i in range(repeats):
            for kind, (title, flags) in broker.kinds.items():
                if broker.reset:
                    broker.reset(server)
                try:
                    r = tool_run(tool, url, flags, duration, pid, tmp, counts)
                except ToolFailed as e:
                    results["failed"] = f"{title}: {e}"
                    log(f"  load-tester failed: {results['failed']}")
                    results["loadavg_after"] = loadavg()
                    return results
                results["runs"][kind].append(r)
                e2e = (f", e2e {r['e2e_received']:,}/{r['sent']:,} p99 {r['e2e_p99_us']:,.0f} us"
                       if kind == broker.e2e else "")
                log(f"  {title} {i + 1}/{repeats}: {r['rate']:,.0f} msg/s, tool "
                    f"{r['cpu_us']:.2f} us/msg (own {r['own_cpu_us']:.2f}), {broker.server} "
                    f"{r['broker_cpu_us']:.2f} us/msg, p50/p99 {r['p50_us']:,.0f}/"
                    f"{r['p99_us']:,.0f} us, lost {r['lost']} missed {r['missed']} errors "
                    f"{r['errors']}{e2e}, steal {r['steal']:.0%}, other processes "
                    f"{r['others']:.0%} of the CPUs")
        results["loadavg_after"] = loadavg()
        if broker.extra:
            results["extra"] = broker.extra(tool, server, tmp, repeats, log, build)
    return results


def cell_of(runs):
    """cell(kind, key, fmt): the median of runs[kind]'s values, with each run's in brackets."""
    def cell(kind, key, fmt):
        values = [r[key] for r in runs[kind]]
        if not values:
            return "n/a"
        med = fmt.format(statistics.median(values))
        return f"{med} ({', '.join(fmt.format(v) for v in values)})" if len(values) > 1 else med
    return cell


def share_range(values):
    """'3%' or '0%-5%' (the smallest and largest share), or 'n/a'."""
    if not values:
        return "n/a"
    low, high = f"{min(values):.0%}", f"{max(values):.0%}"
    return low if low == high else f"{low}-{high}"


def steal_text(steal):
    if not steal:
        return "n/a."
    if f"{min(steal):.0%}" != f"{max(steal):.0%}":
        return f"{min(steal):.0%}-{max(steal):.0%} of CPU time per run."
    return f"{steal[0]:.0%} of CPU time in each run."


def table(broker, results):
    """The markdown table of measure()'s results."""
    runs, kinds = results["runs"], broker.kinds
    cell = cell_of(runs)

    def each(kind, fn):
        return ", ".join(fn(r) for r in runs[kind]) or "n/a"

    def row(label, fn):
        return f"| {label} | " + " | ".join(fn(k) for k in kinds) + " |"

    def e2e_only(fn):
        return lambda k: fn(k) if k == broker.e2e else ""

    n = max(len(v) for v in runs.values())
    workers = next((r["workers"] for v in runs.values() for r in v), "?")
    steal = [r["steal"] for v in runs.values() for r in v]
    server = results["server"]
    lines = [
        f"{server} {results['server_version']} (harness config), load-tester with "
        f"{workers} worker{'s' if workers != 1 else ''}, "
        f"{results['duration']} per run, {results['nproc']} CPUs; median of {n} (each run in "
        f"brackets). Load average {' '.join(results['loadavg_before'])} before, "
        f"{' '.join(results.get('loadavg_after', ['?'] * 3))} after; hypervisor steal "
        + steal_text(steal),
        "",
        "| measure | " + " | ".join(title for title, _ in kinds.values()) + " |",
        "|---|" + "---|" * len(kinds),
        row("target msg/s", lambda k: "max (closed loop)" if k == broker.closed_loop else
            cell(k, "target", "{:,.0f}").split(" ")[0]),
        row("achieved msg/s (rate.achieved)", lambda k: cell(k, "rate", "{:,.0f}")),
        row("sent / completed", lambda k: each(k, lambda r: f"{r['sent']:,}/{r['completed']:,}")),
        row("lost / missed / errors", lambda k: each(
            k, lambda r: f"{r['lost']}/{r['missed']}/{r['errors']}")),
        row("messages per write (sent / counters.writes)",
            lambda k: cell(k, "per_write", "{:.2f}")),
        row("tool CPU per message, µs (wait4 user+sys)", lambda k: cell(k, "cpu_us", "{:.2f}")),
        row("tool CPU per message, µs (run.cpu_seconds)",
            lambda k: cell(k, "own_cpu_us", "{:.2f}")),
        row(f"{server} CPU per message, µs (/proc utime+stime)",
            lambda k: cell(k, "broker_cpu_us", "{:.2f}")),
        row("latency p50, µs", lambda k: cell(k, "p50_us", "{:,.0f}")),
        row("latency p99, µs", lambda k: cell(k, "p99_us", "{:,.0f}")),
        row("e2e received / sent", e2e_only(lambda k: each(
            k, lambda r: f"{r['e2e_received']:,}/{r['sent']:,}"))),
        row("e2e p50, µs", e2e_only(lambda k: cell(k, "e2e_p50_us", "{:,.0f}"))),
        row("e2e p99, µs", e2e_only(lambda k: cell(k, "e2e_p99_us", "{:,.0f}"))),
    ]
    if broker.counts:
        names = list(next((r["server_counts"] for v in runs.values() for r in v), {}) or {})
        if names:
            lines.append(row(f"{server} {' / '.join(names)}", lambda k: each(
                k, lambda r: "/".join(f"{r['server_counts'][m]:,}" for m in names))))
    if results["failed"]:
        lines += ["", f"Not all runs measured: {results['failed']}."]
    if "extra" in results:
        lines += ["", natsjs_table(results["extra"])]
    return "\n".join(lines)


# ---- nats only: nats.js's benchmark beside the tool -------------------------------------------

NATSJS_PUB_MSGS = 1_000_000  # bench.js --pub --count
NATSJS_REQ_MSGS = 20_000     # bench.js --req --rep --count (one at a time: ~3 s here)
NATSJS_PAYLOAD = 64          # bytes; the tool's default --payload
TOOL_CEILING = "3M"          # one paced connection asked for more than it can send


def find_natsjs(build):
    """(bench.js, version) of the npm package `nats` 2.x, or (None, why not)."""
    if not shutil.which("node"):
        return None, "node is not installed"
    candidates = [os.environ.get("LT_NATS_JS")] if os.environ.get("LT_NATS_JS") else [
        Path(build) / "nats-js" / "node_modules" / "nats",
        ROOT / "build" / "nats-js" / "node_modules" / "nats"]
    for package in map(Path, candidates):
        bench = (package / "examples" / "bench.js").resolve()
        if bench.exists():
            version = json.loads((package / "package.json").read_text())["version"]
            probe = subprocess.run(  # bench.js needs minimist (a devDependency of nats)
                ["node", "-e", f"require('module').createRequire({json.dumps(str(bench))})"
                               ".resolve('minimist')"], capture_output=True, text=True)
            if probe.returncode != 0:
                return None, f"minimist is not installed beside nats {version} ({package})"
            return bench, version
    return None, ("the npm package nats 2.x is not installed (npm install --prefix "
                  "build/nats-js nats@2.29.3 minimist@1.2.8, or set LT_NATS_JS)")


def natsjs_run(bench, server, args):
    """One bench.js run (--json); returns its figures: msgs, duration and rate of its `name`
    (pub or req) measure, the process's CPU, the server's CPU and /varz in_msgs change."""
    argv = ["node", str(bench), "--server", f"127.0.0.1:{server.port}", "--payload",
            str(NATSJS_PAYLOAD), "--json", *args]
    in0, server0 = server.varz()["in_msgs"], process_cpu(server.proc.pid)
    (busy0, steal0), t0 = cpu_ticks(), time.monotonic()
    rc, out, err, cpu, wall = run_measured(argv, 300)
    server_cpu = process_cpu(server.proc.pid) - server0
    (busy, steal), capacity = cpu_ticks(), CLK_TCK * (time.monotonic() - t0) * os.cpu_count()
    in_msgs = server.varz()["in_msgs"] - in0
    if rc != 0:
        lines = [line for line in (err + out).splitlines() if line.strip()]
        raise ToolFailed(f"bench.js exit {rc}: {lines[-1] if lines else 'no output'}")
    start = out.find("[")
    metrics = {m["name"]: m for m in json.loads(out[start:])}
    name = "pub" if "--pub" in args else "req"
    m = metrics[name]
    return {"name": name, "msgs": m["msgs"], "duration_ms": m["duration"],
            "rate": m["msgs"] / (m["duration"] / 1e3), "cpu": cpu, "wall": wall,
            "cpu_us": cpu / m["msgs"] * 1e6, "broker_cpu_us": server_cpu / m["msgs"] * 1e6,
            "in_msgs": in_msgs, "mean_us": m["duration"] * 1e3 / m["msgs"],
            "steal": (steal - steal0) / capacity,
            "others": max(0.0, (busy - busy0) / capacity - (cpu + server_cpu) * CLK_TCK / capacity)}


# name -> (title, whose run)
NATSJS_COLUMNS = {
    "js_pub": ("nats.js bench.js --pub", "js"),
    "tool_pub": ("load-tester, 1 device, paced at bench.js's rate", "tool"),
    "tool_ceiling": (f"load-tester, 1 device, --msg {TOOL_CEILING}", "tool"),
    "js_req": ("nats.js bench.js --req --rep", "js"),
    "tool_req": ("load-tester request, 1 device, --rate max --inflight 1 --responders 1", "tool"),
}


def natsjs_side_by_side(tool, server, tmp, repeats, log, build):
    """nats.js's bench.js beside the tool against `server`, `repeats` times, alternating."""
    bench, version = find_natsjs(build or ROOT / "build")
    out = {"runs": {k: [] for k in NATSJS_COLUMNS}, "failed": None,
           "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "loadavg_before": loadavg()}
    if bench is None:
        out["skipped"] = version
        log(f"  nats.js side-by-side skipped: {version}")
        return out
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    startup = run_measured(["node", "-e", f"require({json.dumps(str(bench.parent.parent))})"],
                           60)[3]
    out.update(nats_js=version, node=node, startup_cpu=startup)
    url, pid, size = server.url(), server.proc.pid, ["--payload", str(NATSJS_PAYLOAD)]
    counts = lambda: nats_counts(server)  # noqa: E731
    for i in range(repeats):
        try:
            js = natsjs_run(bench, server, ["--pub", "--count", str(NATSJS_PUB_MSGS)])
            out["runs"]["js_pub"].append(js)
            rate = max(1000, round(js["rate"], -3))
            span = f"{round(NATSJS_PUB_MSGS / rate * 1e3)}ms"
            for kind, target in (("tool_pub", str(int(rate))), ("tool_ceiling", TOOL_CEILING)):
                r = tool_run(tool, url, ["--devices", "1", "--msg", target, *size], span, pid,
                             tmp, counts)
                out["runs"][kind].append(r)
            js = natsjs_run(bench, server, ["--req", "--rep", "--count", str(NATSJS_REQ_MSGS)])
            out["runs"]["js_req"].append(js)
            r = tool_run(tool, url, ["--devices", "1", "--rate", "max", "--nats-mode", "request",
                                     "--responders", "1", "--inflight", "1", *size],
                         f"{round(js['duration_ms'])}ms", pid, tmp, counts)
            out["runs"]["tool_req"].append(r)
        except ToolFailed as e:
            out["failed"] = str(e)
            log(f"  nats.js side-by-side failed: {e}")
            break
        runs = out["runs"]
        log(f"  nats.js {i + 1}/{repeats}: pub {runs['js_pub'][-1]['rate']:,.0f} msg/s "
            f"{runs['js_pub'][-1]['cpu_us']:.2f} us/msg; tool at that rate "
            f"{runs['tool_pub'][-1]['cpu_us']:.2f} us/msg; tool --msg {TOOL_CEILING} "
            f"{runs['tool_ceiling'][-1]['rate']:,.0f} msg/s; req "
            f"{runs['js_req'][-1]['rate']:,.0f}/s vs tool {runs['tool_req'][-1]['rate']:,.0f}/s")
    out["loadavg_after"] = loadavg()
    return out


def natsjs_table(results):
    """The markdown table of natsjs_side_by_side()'s results, or one line saying why not."""
    if "skipped" in results:
        return f"nats.js side-by-side: skipped: {results['skipped']}."
    runs = results["runs"]
    cell = cell_of(runs)

    def row(label, js_fn, tool_fn):
        return f"| {label} | " + " | ".join(
            (js_fn if NATSJS_COLUMNS[k][1] == "js" else tool_fn)(k) for k in NATSJS_COLUMNS) \
            + " |"

    def each(fn):
        return lambda k: ", ".join(fn(r) for r in runs[k]) or "n/a"

    blank = lambda k: ""  # noqa: E731
    steal = [r["steal"] for v in runs.values() for r in v]
    others = [r["others"] for v in runs.values() for r in v]
    n = max(len(v) for v in runs.values())
    lines = [
        f"nats.js {results['nats_js']} examples/bench.js (node {results['node']}) beside "
        f"load-tester, one connection each (plus the tool's responder connection in request "
        f"mode), {NATSJS_PAYLOAD}-byte payloads, the same nats-server; median of {n} (each run "
        f"in brackets). bench.js --pub sends {NATSJS_PUB_MSGS:,} messages, --req "
        f"{NATSJS_REQ_MSGS:,} requests; its rate is its own (messages / its timer, connect "
        f"excluded), its CPU the whole node process's (node's start-up alone: "
        f"{results['startup_cpu'] * 1e3:.0f} ms). Load average "
        f"{' '.join(results['loadavg_before'])} before, "
        f"{' '.join(results.get('loadavg_after', ['?'] * 3))} after; other processes took "
        f"{share_range(others)} of the CPUs per run; hypervisor steal " + steal_text(steal),
        "",
        "| measure | " + " | ".join(t for t, _ in NATSJS_COLUMNS.values()) + " |",
        "|---|" + "---|" * len(NATSJS_COLUMNS),
        row("messages (requests)", each(lambda r: f"{r['msgs']:,}"),
            each(lambda r: f"{r['sent']:,}")),
        row("msg/s", lambda k: cell(k, "rate", "{:,.0f}"), lambda k: cell(k, "rate", "{:,.0f}")),
        row("lost / missed / errors", blank,
            each(lambda r: f"{r['lost']}/{r['missed']}/{r['errors']}")),
        row("messages per write (sent / counters.writes)", blank,
            lambda k: cell(k, "per_write", "{:.2f}")),
        row("client CPU per message, µs (wait4 user+sys)", lambda k: cell(k, "cpu_us", "{:.2f}"),
            lambda k: cell(k, "cpu_us", "{:.2f}")),
        row("nats-server CPU per message, µs", lambda k: cell(k, "broker_cpu_us", "{:.2f}"),
            lambda k: cell(k, "broker_cpu_us", "{:.2f}")),
        row("nats-server in_msgs (/varz)", each(lambda r: f"{r['in_msgs']:,}"),
            each(lambda r: f"{r['server_counts']['in_msgs']:,}")),
        row("latency mean, µs", lambda k: cell(k, "mean_us", "{:,.0f}") if k == "js_req" else "",
            lambda k: cell(k, "mean_us", "{:,.0f}")),
        row("latency p50 / p99, µs", blank, lambda k: cell(k, "p50_us", "{:,.0f}").split(" ")[0]
            + " / " + cell(k, "p99_us", "{:,.0f}").split(" ")[0]),
    ]
    if results["failed"]:
        lines += ["", f"Not all side-by-side runs measured: {results['failed']}."]
    return "\n".join(lines)


# ---- the brokers ------------------------------------------------------------------------------

NATS_100 = ["--devices", "100"]
AMQP_100 = ["--devices", "100", "--queue", "lt-bench", "--declare"]
KAFKA_100 = ["--devices", "100", "--topic", "lt-bench"]

BROKERS = {
    "mqtt": Broker(
        "mqtt", "mosquitto", "mosquitto.py", lambda h: h.find_mosquitto(),
        lambda h, tmp: h.Mosquitto(tmp), mosquitto_version,
        "scripts/install-deps.sh, or set LT_MOSQUITTO",
        {
            "qos0": ("QoS 0", ["--devices", "100", "--msg", "1000", "--qos", "0"]),
            "qos1": ("QoS 1", ["--devices", "100", "--msg", "1000", "--qos", "1"]),
            "e2e": ("QoS 0, 1 subscriber", ["--devices", "100", "--msg", "1000", "--qos", "0",
                                            "--subscribers", "1"]),
            "max1": ("QoS 1 closed loop", ["--devices", "100", "--rate", "max", "--qos", "1",
                                           "--inflight", "16"]),
        },
        closed_loop="max1", e2e="e2e"),
    "nats": Broker(
        "nats", "nats-server", "nats.py", lambda h: h.find_nats_server(),
        lambda h, tmp: h.NatsServer(tmp), nats_server_version,
        "scripts/install-deps.sh, or set LT_NATS_SERVER",
        {
            "pub": ("pub", NATS_100 + ["--msg", "1000"]),
            "request": ("request, 2 responders", NATS_100 + [
                "--msg", "200", "--nats-mode", "request", "--responders", "2"]),
            "e2e": ("e2e, 1 subscriber", NATS_100 + [
                "--msg", "1000", "--nats-mode", "e2e", "--subscribers", "1"]),
            "max": ("request closed loop", NATS_100 + [
                "--rate", "max", "--nats-mode", "request", "--responders", "2",
                "--inflight", "16"]),
        },
        closed_loop="max", e2e="e2e", counts=nats_counts,
        extra=natsjs_side_by_side),
    "amqp": Broker(
        "amqp", "rabbitmq-server", "rabbitmq.py", lambda h: h.find_rabbitmq_server(),
        rabbitmq_start, rabbitmq_version,
        "scripts/install-deps.sh, or set LT_RABBITMQ_SERVER",
        {
            "confirm": ("confirms", AMQP_100 + ["--msg", "100"]),
            "noconfirm": ("no confirms", AMQP_100 + ["--msg", "100", "--confirm", "off"]),
            "e2e": ("confirms, 1 consumer", [
                "--devices", "100", "--msg", "100", "--queue", "lt-bench.{device}", "--declare",
                "--auto-delete", "--consumers", "1"]),
            "max": ("confirms closed loop", AMQP_100 + ["--rate", "max", "--inflight", "64"]),
        },
        closed_loop="max", e2e="e2e", counts=rabbitmq_counts, reset=rabbitmq_reset),
    "kafka": Broker(
        "kafka", "mock cluster", "kafka_mock.py", kafka_find,
        lambda h, tmp: KafkaCluster(h), kafka_version,
        "build the tests (lt-kafka-mock), or set LT_KAFKA_MOCK",
        {
            "acks": ("acks all", KAFKA_100 + ["--msg", "100"]),
            "acks100k": ("acks all, 100k/s", KAFKA_100 + ["--msg", "1000"]),
            "e2e": ("acks all, 1 consumer", KAFKA_100 + ["--msg", "100", "--consumers", "1"]),
            "max": ("acks all closed loop", KAFKA_100 + ["--rate", "max", "--inflight", "1000"]),
        },
        closed_loop="max", e2e="e2e"),
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("broker", choices=sorted(BROKERS))
    p.add_argument("build", nargs="?", default=str(ROOT / "build"))
    p.add_argument("--duration", default="5s")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the raw results here")
    a = p.parse_args()
    duration_seconds(a.duration)
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    broker = BROKERS[a.broker]
    if not broker.binary():
        print(f"broker_cost {broker.name}: skipped: {broker.server} is not installed "
              f"({broker.install})")
        return 0
    results = measure(broker, str(Path(a.build) / "load-tester"), a.duration, a.repeats,
                      log=lambda s: print(s, file=sys.stderr, flush=True), build=a.build)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    print(table(broker, results))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
