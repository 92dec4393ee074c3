#!/usr/bin/python3
"""load-tester's HTTP sink beside wrk, against one nginx, in one run.

Usage: bench/http_vs_wrk.py [BUILD_DIR] [--duration 5s] [--repeats 3] [--connections 50]
                            [--fixed-rate 20k] [--json OUT]

One nginx (tests/integration/nginx.py: one worker, keep-alive without limits, GET / answers
200 "ok") serves every run. Each repetition runs, in this order:
  wrk -t1 -cC -dD URL                                          (wrk's peak)
  load-tester --sink http --url URL --devices C --threads 1 --rate max --duration D
  load-tester ... --rate FIXED                                 (the tool paced, e.g. 20k/s)
so the two tools alternate and share whatever the machine is doing at the time. Per run: the
responses per second (wrk's "Requests/sec"; the tool's completed / run.elapsed_ns), the client's
CPU (user + system of the process, from wait4's rusage) per response in microseconds, and what
nginx itself counted (stub_status requests) and spent (its worker's CPU from /proc). The table
shows the median of the repetitions, and each run's value.

Skips (exit 0, with a message on stdout) when wrk or nginx is not installed. While the tool has
no http sink, its cells say why (the tool's own error message) and the wrk rows are still
measured."""
import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def load_nginx_helper():
    """tests/integration/nginx.py, loaded by path (it does not depend on pytest)."""
    path = ROOT / "tests" / "integration" / "nginx.py"
    spec = importlib.util.spec_from_file_location("lt_nginx_helper", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_count(text):
    """'20k' -> 20000.0, '1.5M' -> 1500000.0 (the tool's count suffixes)."""
    m = re.fullmatch(r"([\d.]+)([kKmMgG]?)", text)
    if not m:
        raise ValueError(f"not a rate: {text}")
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2).lower()]


def run_measured(args, timeout):
    """Runs args to completion; returns (returncode, stdout, stderr, cpu seconds of the process
    (user + system, its threads and any children it reaped), wall seconds). Output goes to files
    and the child is reaped with wait4, so its rusage is its own."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), usage.ru_utime + usage.ru_stime, wall


class ServerMeter:
    """What nginx counted (stub_status requests) and its workers' CPU across one run."""

    def __init__(self, nginx):
        self.nginx = nginx

    def _cpu(self):
        total = 0
        for pid in self.nginx.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        return total / CLK_TCK

    def __enter__(self):
        self.requests0, self.cpu0 = self.nginx.requests(), self._cpu()
        return self

    def __exit__(self, *exc):
        self.requests = self.nginx.requests() - self.requests0
        self.cpu = self._cpu() - self.cpu0


def duration_seconds(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)?", text)
    if not m:
        raise ValueError(f"not a duration: {text}")
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1, None: 1, "m": 60,
                                "h": 3600}[m.group(2)]


def wrk_run(url, connections, duration):
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}", url]
    rc, out, err, cpu, wall = run_measured(args, duration_seconds(duration) + 60)
    if rc != 0:
        raise RuntimeError(f"wrk failed ({rc}): {err or out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not rate or not total:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rate": float(rate.group(1)), "responses": int(total.group(1)), "cpu": cpu,
            "wall": wall, "errors": sum(map(int, errors.groups())) if errors else 0,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def tool_run(tool, url, connections, duration, rate, tmp):
    """One load-tester run; returns its figures, or raises ToolUnavailable with its message."""
    path = Path(tmp) / f"http-{time.monotonic_ns()}.json"
    args = [tool, "--sink", "http", "--url", url, "--devices", str(connections), "--threads", "1",
            "--rate", rate, "--duration", duration, "--json", str(path), "--quiet"]
    rc, out, err, cpu, wall = run_measured(args, duration_seconds(duration) + 60)
    if rc != 0 or not path.exists():
        lines = [line for line in (err + out).splitlines() if line.strip()]
        raise ToolUnavailable(f"exit {rc}: {lines[-1] if lines else 'no output'}")
    result = json.loads(path.read_text())
    c = result["counters"]
    elapsed = result["run"]["elapsed_ns"] / 1e9
    errors = sum(v for k, v in c.items() if k.startswith("err_")) + c.get("lost", 0)
    return {"rate": c["completed"] / elapsed, "responses": c["completed"], "cpu": cpu,
            "wall": wall, "errors": errors, "non_2xx": c["completed"] - c.get("status_2xx",
                                                                             c["completed"])}


class ToolUnavailable(RuntimeError):
    pass


def measure(tool, duration="5s", repeats=3, connections=50, fixed_rate="20k", log=print):
    """Runs the comparison; returns {"wrk_peak": [runs], "tool_peak": [...], "tool_fixed": [...],
    "tool_unavailable": reason or None, "nginx": version}. Each run has rate, responses, cpu,
    cpu_us (client CPU per response), server_requests, server_cpu_us, errors, non_2xx."""
    helper = load_nginx_helper()
    version = subprocess.run([helper.find_nginx(), "-v"], capture_output=True,
                             text=True).stderr.strip()
    results = {"wrk_peak": [], "tool_peak": [], "tool_fixed": [], "tool_unavailable": None,
               "nginx": version.replace("nginx version: ", ""), "duration": duration,
               "connections": connections, "fixed_rate": fixed_rate}
    if not Path(tool).exists():
        results["tool_unavailable"] = f"{tool} not built"
    with tempfile.TemporaryDirectory(prefix="lt-http-bench-") as tmp, \
            helper.Nginx(tmp, workers=1) as nginx:
        url = nginx.url("/")

        def one(kind, fn):
            with ServerMeter(nginx) as meter:
                r = fn()
            r["server_requests"] = meter.requests
            r["cpu_us"] = r["cpu"] / r["responses"] * 1e6 if r["responses"] else float("nan")
            r["server_cpu_us"] = (meter.cpu / meter.requests * 1e6 if meter.requests
                                  else float("nan"))
            results[kind].append(r)
            log(f"  {kind} {len(results[kind])}/{repeats}: {r['rate']:,.0f} responses/s, client "
                f"{r['cpu_us']:.2f} us/response, nginx {r['server_cpu_us']:.2f} us/request, "
                f"nginx counted {meter.requests:,} for {r['responses']:,}")

        for i in range(repeats):
            one("wrk_peak", lambda: wrk_run(url, connections, duration))
            for kind, rate in (("tool_peak", "max"), ("tool_fixed", fixed_rate)):
                if results["tool_unavailable"]:
                    continue
                try:
                    one(kind, lambda: tool_run(tool, url, connections, duration, rate, tmp))
                except ToolUnavailable as e:
                    results["tool_unavailable"] = str(e)
                    log(f"  load-tester --sink http unavailable: {e}")
    return results


def table(results):
    """The markdown table of measure()'s results."""
    def med(kind, key):
        runs = results[kind]
        return statistics.median(r[key] for r in runs) if runs else None

    def cell(kind, key, fmt):
        runs = results[kind]
        if not runs:
            return "n/a"
        each = ", ".join(fmt.format(r[key]) for r in runs)
        return f"{fmt.format(med(kind, key))} ({each})" if len(runs) > 1 else fmt.format(
            med(kind, key))

    def ratio(key):
        a, b = med("tool_peak", key), med("wrk_peak", key)
        return f"{a / b:.2f}x" if a is not None and b else "n/a"

    n = len(results["wrk_peak"])
    c, d, fixed = results["connections"], results["duration"], results["fixed_rate"]
    lines = [
        f"HTTP/1.1 keep-alive GET against {results['nginx']} (1 worker), {c} connections, "
        f"1 client thread, {d} per run; median of {n} (each run in brackets).",
        "",
        "| measure | wrk | load-tester | load-tester / wrk |",
        "|---|---|---|---|",
        f"| peak responses/s | {cell('wrk_peak', 'rate', '{:,.0f}')} | "
        f"{cell('tool_peak', 'rate', '{:,.0f}')} | {ratio('rate')} |",
        f"| client CPU per response at peak, us (user+sys) | "
        f"{cell('wrk_peak', 'cpu_us', '{:.2f}')} | {cell('tool_peak', 'cpu_us', '{:.2f}')} | "
        f"{ratio('cpu_us')} |",
        f"| client CPU per response at --rate {fixed}, us | (wrk has no fixed rate) | "
        f"{cell('tool_fixed', 'cpu_us', '{:.2f}')} | |",
        f"| responses/s at --rate {fixed} | | {cell('tool_fixed', 'rate', '{:,.0f}')} | |",
        f"| nginx CPU per request at peak, us | {cell('wrk_peak', 'server_cpu_us', '{:.2f}')} | "
        f"{cell('tool_peak', 'server_cpu_us', '{:.2f}')} | {ratio('server_cpu_us')} |",
        "| nginx-counted requests - client-counted responses (in flight at the end) | "
        + " | ".join(", ".join(f"{r['server_requests'] - r['responses']:+d}"
                               for r in results[kind]) or "n/a"
                     for kind in ("wrk_peak", "tool_peak")) + " | |",
        "| errors / non-2xx | "
        + " | ".join(", ".join(f"{r['errors']}/{r['non_2xx']}" for r in results[kind]) or "n/a"
                     for kind in ("wrk_peak", "tool_peak")) + " | |",
    ]
    if results["tool_unavailable"]:
        lines += ["", f"load-tester --sink http: not measured ({results['tool_unavailable']})."]
    return "\n".join(lines)


def missing_prerequisites():
    """Why this benchmark cannot run here (a list of reasons), or []."""
    missing = []
    if not shutil.which("wrk"):
        missing.append("wrk is not installed (scripts/install-deps.sh)")
    if not load_nginx_helper().find_nginx():
        missing.append("nginx is not installed (scripts/install-deps.sh)")
    return missing


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("build", nargs="?", default=str(ROOT / "build"))
    p.add_argument("--duration", default="5s")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--fixed-rate", default="20k")
    p.add_argument("--json", help="also write the raw results here")
    a = p.parse_args()
    parse_count(a.fixed_rate)
    duration_seconds(a.duration)
    missing = missing_prerequisites()
    if missing:
        print(f"http_vs_wrk: skipped: {'; '.join(missing)}")
        return 0
    results = measure(str(Path(a.build) / "load-tester"), a.duration, a.repeats, a.connections,
                      a.fixed_rate, log=lambda s: print(s, file=sys.stderr, flush=True))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
