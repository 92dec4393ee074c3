#!/usr/bin/python3
"""Measures every speed figure of docs/BENCHMARKS.md in one run and prints one table.

Each figure is measured beside its reference in the same run (ratios), or against the tool's own
target, so the table holds on a noisy shared machine. Usage: bench/figures.py [BUILD_DIR]."""
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build")
TOOL = str(BUILD / "load-tester")
SEND_COST = str(BUILD / "bench" / "send_cost")
DURATION = os.environ.get("DURATION", "5s")
TMP = Path(tempfile.mkdtemp(prefix="lt-bench-"))


class Server:
    def __init__(self, *extra):
        self.proc = subprocess.Popen([TOOL, "serve", "--port", "0", *extra],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split(":")[1].split()[0])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.communicate(timeout=60)


def steal_ticks():
    """CPU time the hypervisor gave to others (the 8th field of /proc/stat's cpu line)."""
    return int(Path("/proc/stat").read_text().split("\n")[0].split()[8])


def run(port, *args):
    """One run; its result gains "steal": the share of this machine's CPU time stolen meanwhile."""
    path = TMP / f"r{time.monotonic_ns()}.json"
    s0, t0 = steal_ticks(), time.monotonic()
    subprocess.run([TOOL, "--port", str(port), "--quiet", "--json", str(path), *args], check=True,
                   stdout=subprocess.DEVNULL, timeout=600)
    ticks = os.sysconf("SC_CLK_TCK") * (time.monotonic() - t0) * os.cpu_count()
    result = json.loads(path.read_text())
    result["steal"] = (steal_ticks() - s0) / ticks
    return result


def send_cost(sink):
    out = subprocess.run([SEND_COST, "--sink", sink, "--devices", "1000", "--msg", "100",
                          "--duration", DURATION], check=True, capture_output=True,
                         text=True).stdout
    row = next(l for l in out.splitlines() if l.startswith("load-tester"))
    paced = next(l for l in out.splitlines() if l.startswith("raw paced"))
    per = lambda l: float(re.search(r"([\d.]+)us", l).group(1))
    return per(row), per(paced), float(row.split()[-1].rstrip("x"))


rows = []


def add(figure, goal, measured, ok, limit):
    rows.append((figure, goal, measured, "yes" if ok else "NO", limit))
    print(f"  {figure}: {measured} ({'meets' if ok else 'misses'} {goal})", file=sys.stderr,
          flush=True)


for sink in ("tcp", "udp"):
    tool, raw, ratio = send_cost(sink)
    add(f"CPU per message vs raw paced loop, {sink} 1000 x 100/s", "<= 1.15x",
        f"{ratio:.2f}x ({tool:.2f} vs {raw:.2f} us)", ratio <= 1.15,
        "one wake-up + one send syscall per message")

server = Server()
best, best_result = 0, None
for rate in (1_000_000, 1_500_000, 2_000_000, 3_000_000, 4_000_000, 6_000_000, 8_000_000):
    r = run(server.port, "--devices", "1", "--rate", str(rate), "--duration", "3s", "--threads",
            "1")
    if r["rate"]["achieved"] < 0.99 * rate:
        break
    best, best_result = rate, r
if best_result:
    c = best_result["counters"]
    measured = f"{best:,} msg/s ({c['sent'] / c['writes']:.1f} messages/write, coalesced)"
else:
    measured = "below 1,000,000 msg/s"
add("one TCP device, highest paced rate at >= 99% of target", ">= 1,000,000 msg/s", measured,
    best >= 1_000_000, "CPU of one worker: loopback send() of the coalesced bytes")

shape = ["--devices", "1000", "--msg", "100", "--duration", "5s"]


def lateness(*extra):
    """Three runs: p99 of each with the CPU steal during it; the median decides."""
    runs = [run(server.port, *shape, *extra) for _ in range(3)]
    p99s = [r["histograms"]["lateness"]["percentiles"]["p99"] / 1000 for r in runs]
    text = " / ".join(f"{p:.1f} us (steal {r['steal']:.0%})" for p, r in zip(p99s, runs))
    return runs, sorted(p99s)[1], text


runs, median, text = lateness()
errors = [abs(r["rate"]["achieved"] / r["rate"]["target"] - 1) * 100 for r in runs]
add("aggregate rate error over the run, 100k msg/s", "< 0.01%",
    " / ".join(f"{e:.4f}%" for e in errors), max(errors) < 0.01,
    "clock reads at the run's two ends")
add("send lateness p99, 100k msg/s, default waiting", "<= 50 us", text, median <= 50,
    "epoll_pwait2 wake-up latency; host CPU steal")
runs, median, text = lateness("--precise")
add("send lateness p99, 100k msg/s, --precise", "<= 20 us", text, median <= 20,
    "preemption of the spinning worker (local server, host CPU steal)")
server.stop()

# Devices in one process: as many as the descriptor limit allows (the tool raises its soft
# limit to the hard one; raising the hard one needs CAP_SYS_RESOURCE).
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
devices = min(100_000, hard - 64)
server = Server()
# One interval for the whole run: fewer histogram copies in flight, so less noise in the peak.
common = ["--msg", "0.2", "--duration", "3s", "--update", "10m", "--source-ip",
          "127.0.0.1-127.0.0.8", "--connect-timeout", "10s", "--connect-rate", "10k"]
lowest = lambda results: min(results, key=lambda r: r["run"]["max_rss_kib"])
base = lowest([run(server.port, "--devices", "1", *common) for _ in range(2)])
big = lowest([run(server.port, "--devices", str(devices), *common) for _ in range(2)])
server.stop()
per_device = (big["run"]["max_rss_kib"] - base["run"]["max_rss_kib"]) * 1024 / (devices - 1)
connected = big["run"]["connected_at_start"]
add("devices held open in one process (8 source addresses)", "100,000, <= 2 KiB each",
    f"{connected:,} devices, {per_device:.0f} B each (peak RSS {base['run']['max_rss_kib']:,} -> "
    f"{big['run']['max_rss_kib']:,} KiB)", connected >= 100_000 and
    per_device <= 2048, f"RLIMIT_NOFILE hard limit {hard:,} (no CAP_SYS_RESOURCE here)"
    if devices < 100_000 else "memory")
achieved = big["run"]["connect"]["achieved_rate"]
off = abs(achieved / 10_000 - 1) * 100
add(f"connect rate, --connect-rate 10k over {devices:,} devices", "within 1%",
    f"{achieved:,.0f}/s ({off:.2f}% off)", off <= 1, "accept() + handshake on 2 shared cores")

print()
print("| figure | goal | measured | met | what limits it |")
print("|---|---|---|---|---|")
for row in rows:
    print("| " + " | ".join(row) + " |")
