"""Distributed runs: ranks from mpirun (Open MPI from Debian, loopback only), Slurm and
Kubernetes variables set by hand, --start-at, `merge` (exact, order-independent, refusing files
that do not belong together) and `compare` with --fail-if, against the built-in server."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import (BINARY, SANITIZED, Server, assert_usage_error, decode_hdr_counts,
                      run_tool)

SCALE = 0.2 if SANITIZED else 1.0
MPIRUN = shutil.which("mpirun")


def tool(args, env=None, timeout=120):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def ranks_by_hand(tmp, port, size, args, start_in=2.0):
    """`size` processes with --rank/--size and a common --start-at; returns their files."""
    start = f"{time.time() + start_in:.3f}"
    procs = [subprocess.Popen([BINARY, "--port", str(port), *args, "--rank", str(r), "--size",
                               str(size), "--start-at", start, "--json",
                               os.path.join(tmp, "r-{rank}.json"), "--quiet", "--threads", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(size)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    return [os.path.join(tmp, f"r-{r}.json") for r in range(size)]


def load(path):
    with open(path) as f:
        return json.load(f)


@pytest.mark.skipif(MPIRUN is None, reason="openmpi-bin is not installed")
def test_four_ranks_under_mpirun_equal_a_single_process_run(tmp):
    msg = int(50 * SCALE)
    args = ["--devices", "1000", "--msg", str(msg), "--duration", "10s", "--quiet"]
    server = Server(tmp)
    start = f"{time.time() + 6:.3f}"
    mpi = subprocess.run(
        [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "4", "--mca",
         "oob_tcp_if_include", "lo", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include",
         "lo", BINARY, "--port", str(server.port), *args, "--start-at", start, "--json",
         os.path.join(tmp, "r-{rank}.json")], capture_output=True, text=True, timeout=180)
    got = server.stop()
    assert mpi.returncode == 0, mpi.stderr[-2000:]
    files = [os.path.join(tmp, f"r-{r}.json") for r in range(4)]
    for r, f in enumerate(files):
        run = load(f)["run"]
        assert (run["rank"], run["size"], run["devices"]) == (r, 4, 250)
        assert run["placement"] == "OMPI_COMM_WORLD_RANK" and run["start_late_ns"] == 0
    merge = tool(["merge", *files, "-o", os.path.join(tmp, "all.json")])
    assert merge.returncode == 0, merge.stderr
    merged = load(os.path.join(tmp, "all.json"))
    due = 1000 * msg * 10
    c = merged["counters"]
    assert c["sent"] == due and c["missed"] == 0, merge.stdout
    assert got["messages"] == c["sent"]
    # Every device id used exactly once: each of the 1,000 sent exactly its own share.
    assert got["devices_seen"] == 1000
    assert got["device_messages_min"] == got["device_messages_max"] == msg * 10
    assert merged["run"]["size"] == 4 and merged["run"]["rank"] is None
    assert merged["histograms"]["latency"]["count"] == due
    assert "1000 devices" in merge.stdout and f"sent {due}" in merge.stdout
    # The same options in one process: the same count.
    server = Server(tmp)
    single = run_tool(tmp, ["--port", str(server.port), *args])
    assert server.stop()["messages"] == single.counters["sent"] == c["sent"]


def test_merged_histograms_are_the_sum_of_the_ranks_in_any_order(tmp):
    server = Server(tmp)
    files = ranks_by_hand(tmp, server.port, 3, ["--devices", "30", "--msg", "100",
                                                "--duration", "2s"])
    server.stop()
    a, b = os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")
    assert tool(["merge", *files, "-o", a]).returncode == 0
    assert tool(["merge", *reversed(files), "--output", b]).returncode == 0
    assert load(a) == load(b)
    merged, parts = load(a), [load(f) for f in files]
    for name in ("latency", "service", "lateness", "connect"):
        summed = {}
        for p in parts:
            for value, count in decode_hdr_counts(p["histograms"][name]["hdr"]):
                summed[value] = summed.get(value, 0) + count
        assert dict(decode_hdr_counts(merged["histograms"][name]["hdr"])) == summed, name
    for key in ("sent", "completed", "bytes_sent", "connects"):
        assert merged["counters"][key] == sum(p["counters"][key] for p in parts)
    assert merged["counters"]["sent"] == 30 * 100 * 2
    # Intervals aligned by index: each interval's counts are the ranks' sums.
    for i, point in enumerate(merged["intervals"]):
        assert point["counters"]["sent"] == sum(p["intervals"][i]["counters"]["sent"]
                                                for p in parts)


def test_merge_refuses_files_that_do_not_belong_together(tmp):
    server = Server(tmp)
    files = ranks_by_hand(tmp, server.port, 2, ["--devices", "4", "--msg", "10",
                                                "--duration", "1s"])
    other = run_tool(tmp, ["--port", str(server.port), "--devices", "8", "--msg", "10",
                           "--duration", "1s", "--rank", "1", "--size", "2", "--quiet"])
    server.stop()
    assert other.returncode == 0
    other_file = os.path.join(tmp, "other.json")
    os.rename(os.path.join(tmp, "run.json"), other_file)
    cases = [
        ([files[0], other_file], "different test"),
        ([files[0], files[0]], "rank 0 twice"),
        ([files[1]], "rank 0 of 2 is missing"),
        ([files[0], os.path.join(tmp, "nope.json")], "cannot read"),
        ([files[0], "--frobnicate"], "unknown flag"),
    ]
    broken = os.path.join(tmp, "broken.json")
    with open(broken, "w") as f:
        f.write('{"tool": "something else"}')
    cases.append(([files[0], broken], "not a load-tester result file"))
    for args, words in cases:
        r = tool(["merge", *args])
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert words in r.stderr, (args, r.stderr)


def test_slurm_kubernetes_and_mpich_variables(tmp):
    base = ["--devices", "10", "--msg", "1", "--noexec"]
    r = tool(base, {"SLURM_PROCID": "1", "SLURM_NTASKS": "3"})
    assert r.returncode == 0, r.stderr
    assert "rank         1 of 3 (from SLURM_PROCID): devices 1, 4, ... of 10" in r.stdout
    assert "devices      3 over" in r.stdout
    r = tool([*base, "--size", "4"], {"JOB_COMPLETION_INDEX": "2"})
    assert "rank         2 of 4 (from JOB_COMPLETION_INDEX)" in r.stdout, r.stderr
    r = tool(base, {"JOB_COMPLETION_INDEX": "2"})
    assert_usage_error(r, base, "--size")
    r = tool(base, {"PMI_RANK": "0", "PMI_SIZE": "2", "LT_RANK": "1", "LT_SIZE": "2"})
    assert "rank         1 of 2 (from LT_RANK)" in r.stdout  # ours before the launcher's
    r = tool([*base, "--rank", "0"], {"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2"})
    assert "rank         0 of 2 (from --rank)" in r.stdout  # the flag before both
    r = tool(base, {"OMPI_COMM_WORLD_RANK": "x", "OMPI_COMM_WORLD_SIZE": "2"})
    assert_usage_error(r, base, "OMPI_COMM_WORLD_RANK")
    # A real run with Slurm's variables: the file says which rank it was.
    server = Server(tmp)
    run = subprocess.run([BINARY, "--port", str(server.port), "--devices", "10", "--msg", "10",
                          "--duration", "1s", "--json", os.path.join(tmp, "s-{rank}.json"),
                          "--quiet"], env={**os.environ, "SLURM_PROCID": "2",
                                           "SLURM_NTASKS": "3"}, capture_output=True, text=True)
    got = server.stop()
    assert run.returncode == 0, run.stderr
    result = load(os.path.join(tmp, "s-2.json"))
    assert (result["run"]["rank"], result["run"]["size"], result["run"]["devices"]) == (2, 3, 3)
    assert result["counters"]["sent"] == got["messages"] == 30 and got["devices_seen"] == 3


@pytest.mark.parametrize("args,flag", [
    (["--rank", "4", "--size", "4"], "--rank"),
    (["--size", "4"], "--rank"),
    (["--rank", "0"], "--size"),
    (["--rank", "0", "--size", "20"], "--devices"),
    (["--start-at", "tomorrow"], "--start-at"),
    (["--start-at", "2026-02-30T00:00:00Z"], "--start-at"),
])
def test_bad_placement_exit_2(tmp, args, flag):
    r = tool(["--devices", "10", "--duration", "1s", *args])
    assert_usage_error(r, args, flag)


def test_start_at_waits_for_the_instant(tmp):
    server = Server(tmp)
    t0 = time.time()
    start = t0 + 2.5
    run = run_tool(tmp, ["--port", str(server.port), "--devices", "5", "--msg", "10",
                         "--duration", "1s", "--start-at", f"{start:.3f}", "--quiet"])
    server.stop()
    assert run.returncode == 0, run.stderr
    r = run.result["run"]
    assert r["start_late_ns"] == 0 and abs(r["start_unix_ns"] - start * 1e9) < 2e6
    assert r["start_at_unix_ns"] == r["start_unix_ns"]
    assert time.time() - t0 >= 3.5 and run.counters["sent"] == 50


def test_a_late_rank_counts_what_it_missed_and_does_not_burst(tmp):
    server = Server(tmp)
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2))
    run = run_tool(tmp, ["--port", str(server.port), "--devices", "10", "--msg", "100",
                         "--duration", "5s", "--start-at", past, "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    c, r = run.counters, run.result["run"]
    assert r["start_late_ns"] >= 2e9 and "after --start-at" in run.stderr
    late_ticks = 10 * 100 * r["start_late_ns"] / 1e9
    assert abs(c["missed"] - late_ticks) <= 20, (c["missed"], late_ticks)
    assert c["sent"] + c["missed"] == 5000 and got["messages"] == c["sent"]
    # What it did send went on schedule: no catch-up burst behind the late start.
    assert run.result["histograms"]["lateness"]["max"] < 500e6


def test_compare_shows_a_regression_and_fails_under_fail_if(tmp):
    args = ["--devices", "10", "--msg", "100", "--duration", "2s", "--echo", "--quiet"]
    fast = Server(tmp, echo=True)
    base = run_tool(tmp, ["--port", str(fast.port), *args])
    fast.stop()
    base_file = os.path.join(tmp, "base.json")
    os.rename(os.path.join(tmp, "run.json"), base_file)
    slow = Server(tmp, echo=True, extra=["--delay", "20ms"])
    new = run_tool(tmp, ["--port", str(slow.port), *args])
    slow.stop()
    assert base.returncode == new.returncode == 0
    new_file = os.path.join(tmp, "run.json")
    r = tool(["compare", base_file, new_file])
    assert r.returncode == 0, r.stderr
    assert "p99" in r.stdout and "rate" in r.stdout
    r = tool(["compare", base_file, new_file, "--fail-if", "p99>+10%"])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "HOLDS" in r.stdout
    r = tool(["compare", base_file, new_file, "--fail-if", "p99>+1s", "--fail-if", "errors>0"])
    assert r.returncode == 0, r.stdout
    r = tool(["compare", base_file, new_file, "--fail-if", "p99>>10%"])
    assert_usage_error(r, [], "--fail-if")
