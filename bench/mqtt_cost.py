#!/usr/bin/python3
"""What the MQTT sink costs, in the tool and in the broker, against one mosquitto, in one run.

Usage: bench/mqtt_cost.py [BUILD_DIR] [--duration 5s] [--repeats 3] [--json OUT]

One mosquitto from the tests' harness (tests/integration/mosquitto.py: persistence off, no queue
or in-flight limits, TCP_NODELAY, $SYS every second) serves every run. Each repetition runs, in
this order, so the kinds alternate and share whatever the machine is doing at the time:
  load-tester --url mqtt://127.0.0.1:PORT --devices 100 --msg 1000 --qos 0 --duration D
  ... --qos 1                                              (latency to the broker's PUBACK)
  ... --qos 0 --subscribers 1                              (end to end, through the broker)
  ... --rate max --qos 1 --inflight 16                     (closed loop: the highest QoS 1 rate)
Per run: the achieved rate (rate.achieved), the counters (sent, completed, lost, missed, and
e2e_received with subscribers), latency p50/p99 (histograms.latency; histograms.e2e with
subscribers), the tool's CPU per message sent, both as the process's user + system time from
wait4's rusage and as the tool's own run.cpu_seconds, and mosquitto's CPU per message sent
(utime + stime of its process from /proc/PID/stat, from just before the tool starts to just after
it exits). The table shows the median of the repetitions and each run's value, with the load
average and the CPU time the hypervisor stole meanwhile.

Skips (exit 0, with a message on stdout) when mosquitto is not installed."""
import argparse
import importlib.util
import json
import os
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


def load_mosquitto_helper():
    """tests/integration/mosquitto.py, loaded by path (it does not depend on pytest; it imports
    its sibling nginx.py, so that directory is on sys.path while it loads)."""
    directory = ROOT / "tests" / "integration"
    spec = importlib.util.spec_from_file_location("lt_mosquitto_helper",
                                                  directory / "mosquitto.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(directory))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(directory))
    return module


def process_cpu(pid):
    """utime + stime of a process (all its threads), in seconds, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def steal_ticks():
    """CPU time the hypervisor gave to others (the 8th value of /proc/stat's cpu line)."""
    return int(Path("/proc/stat").read_text().split("\n")[0].split()[8])


def loadavg():
    return Path("/proc/loadavg").read_text().split()[:3]


# name -> (title, the flags beyond --url and --duration)
KINDS = {
    "qos0": ("QoS 0", ["--devices", "100", "--msg", "1000", "--qos", "0"]),
    "qos1": ("QoS 1", ["--devices", "100", "--msg", "1000", "--qos", "1"]),
    "e2e": ("QoS 0, 1 subscriber", ["--devices", "100", "--msg", "1000", "--qos", "0",
                                    "--subscribers", "1"]),
    "max1": ("QoS 1 closed loop", ["--devices", "100", "--rate", "max", "--qos", "1",
                                   "--inflight", "16"]),
}


class ToolFailed(RuntimeError):
    pass


def tool_run(tool, url, flags, duration, broker_pid, tmp):
    """One load-tester run; returns its figures. Raises ToolFailed with its last message when it
    wrote no result."""
    path = Path(tmp) / f"mqtt-{time.monotonic_ns()}.json"
    args = [tool, "--url", url, *flags, "--duration", duration, "--quiet", "--json", str(path)]
    broker0, steal0, t0 = process_cpu(broker_pid), steal_ticks(), time.monotonic()
    rc, out, err, cpu, wall = run_measured(args, duration_seconds(duration) + 60)
    broker = process_cpu(broker_pid) - broker0
    steal = (steal_ticks() - steal0) / (CLK_TCK * (time.monotonic() - t0) * os.cpu_count())
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
        "cpu": cpu, "own_cpu": result["run"]["cpu_seconds"], "broker_cpu": broker,
        "cpu_us": per_msg(cpu), "own_cpu_us": per_msg(result["run"]["cpu_seconds"]),
        "broker_cpu_us": per_msg(broker),
        "p50_us": pct("latency", "p50"), "p99_us": pct("latency", "p99"),
        "e2e_p50_us": pct("e2e", "p50"), "e2e_p99_us": pct("e2e", "p99"),
        "wall": wall, "steal": steal,
    }


def measure(tool, duration="5s", repeats=3, log=print):
    """Runs every kind `repeats` times, alternating; returns {"runs": {kind: [figures]},
    "mosquitto": version, "failed": reason or None, "duration", "loadavg_before",
    "loadavg_after", "started"}."""
    helper = load_mosquitto_helper()
    version = subprocess.run([helper.find_mosquitto(), "-h"], capture_output=True,
                             text=True).stdout.splitlines()[0].replace("mosquitto version ", "")
    results = {"runs": {k: [] for k in KINDS}, "mosquitto": version, "failed": None,
               "duration": duration, "repeats": repeats,
               "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "loadavg_before": loadavg(), "nproc": os.cpu_count()}
    if not Path(tool).exists():
        results["failed"] = f"{tool} not built"
        return results
    with tempfile.TemporaryDirectory(prefix="lt-mqtt-bench-") as tmp, \
            helper.Mosquitto(tmp) as broker:
        url = broker.url()
        for i in range(repeats):
            for kind, (title, flags) in KINDS.items():
                try:
                    r = tool_run(tool, url, flags, duration, broker.proc.pid, tmp)
                except ToolFailed as e:
                    results["failed"] = f"{title}: {e}"
                    log(f"  load-tester failed: {results['failed']}")
                    results["loadavg_after"] = loadavg()
                    return results
                results["runs"][kind].append(r)
                e2e = (f", e2e {r['e2e_received']:,}/{r['sent']:,} p99 {r['e2e_p99_us']:,.0f} us"
                       if kind == "e2e" else "")
                log(f"  {title} {i + 1}/{repeats}: {r['rate']:,.0f} msg/s, tool "
                    f"{r['cpu_us']:.2f} us/msg (own {r['own_cpu_us']:.2f}), mosquitto "
                    f"{r['broker_cpu_us']:.2f} us/msg, p50/p99 {r['p50_us']:,.0f}/"
                    f"{r['p99_us']:,.0f} us, lost {r['lost']} missed {r['missed']}{e2e}, "
                    f"steal {r['steal']:.0%}")
    results["loadavg_after"] = loadavg()
    return results


def table(results):
    """The markdown table of measure()'s results."""
    runs = results["runs"]

    def cell(kind, key, fmt):
        values = [r[key] for r in runs[kind]]
        if not values:
            return "n/a"
        med = fmt.format(statistics.median(values))
        return f"{med} ({', '.join(fmt.format(v) for v in values)})" if len(values) > 1 else med

    def each(kind, fn):
        return ", ".join(fn(r) for r in runs[kind]) or "n/a"

    def row(label, fn):
        return f"| {label} | " + " | ".join(fn(k) for k in KINDS) + " |"

    n = max(len(v) for v in runs.values())
    workers = next((r["workers"] for v in runs.values() for r in v), "?")
    steal = [r["steal"] for v in runs.values() for r in v]
    lines = [
        f"mosquitto {results['mosquitto']} (harness config), load-tester with "
        f"{workers} worker{'s' if workers != 1 else ''}, "
        f"{results['duration']} per run, {results['nproc']} CPUs; median of {n} (each run in "
        f"brackets). Load average {' '.join(results['loadavg_before'])} before, "
        f"{' '.join(results.get('loadavg_after', ['?'] * 3))} after; hypervisor steal "
        + (f"{min(steal):.0%}-{max(steal):.0%} of CPU time per run." if steal and
           f"{min(steal):.0%}" != f"{max(steal):.0%}" else
           f"{steal[0]:.0%} of CPU time in each run." if steal else "n/a."),
        "",
        "| measure | " + " | ".join(title for title, _ in KINDS.values()) + " |",
        "|---|" + "---|" * len(KINDS),
        row("target msg/s", lambda k: "max (closed loop)" if k == "max1" else
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
        row("mosquitto CPU per message, µs (/proc utime+stime)",
            lambda k: cell(k, "broker_cpu_us", "{:.2f}")),
        row("latency p50, µs", lambda k: cell(k, "p50_us", "{:,.0f}")),
        row("latency p99, µs", lambda k: cell(k, "p99_us", "{:,.0f}")),
        row("e2e received / sent", lambda k: each(
            k, lambda r: f"{r['e2e_received']:,}/{r['sent']:,}") if k == "e2e" else ""),
        row("e2e p50, µs", lambda k: cell(k, "e2e_p50_us", "{:,.0f}") if k == "e2e" else ""),
        row("e2e p99, µs", lambda k: cell(k, "e2e_p99_us", "{:,.0f}") if k == "e2e" else ""),
    ]
    if results["failed"]:
        lines += ["", f"Not all runs measured: {results['failed']}."]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("build", nargs="?", default=str(ROOT / "build"))
    p.add_argument("--duration", default="5s")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the raw results here")
    a = p.parse_args()
    duration_seconds(a.duration)
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    if not load_mosquitto_helper().find_mosquitto():
        print("mqtt_cost: skipped: mosquitto is not installed (scripts/install-deps.sh, or set "
              "LT_MOSQUITTO)")
        return 0
    results = measure(str(Path(a.build) / "load-tester"), a.duration, a.repeats,
                      log=lambda s: print(s, file=sys.stderr, flush=True))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    print(table(results))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
