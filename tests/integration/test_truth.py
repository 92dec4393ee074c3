"""The tool's numbers against known truth: the built-in server injects a fixed delay, stalls or
drops, and the reported latencies, counts and rates must match what was injected.

Bounds hold on a loaded 2-core machine where the tool and the server share the cores."""
import warnings

from conftest import SANITIZED, Server, StealMeter, run_tool, share_above

import pytest

pytestmark = pytest.mark.skipif(SANITIZED, reason="measures time and rates: normal build only")

MS = 1_000_000
# HDR buckets at 2 ms are 1 us wide; a value is reported as its bucket's lowest equivalent.
BUCKET = 1_024
# Upper bounds on time cannot hold while the hypervisor takes the CPU away (seen here: 20% of it
# for minutes, with p50 latencies 3 ms late, and pauses the steal counter does not show). Every
# attempt must pass the lower bounds and exact counts; the upper bounds are checked on attempts
# whose CPU steal stayed below QUIET and must hold on one of them. When no attempt was quiet,
# they are reported unchecked.
ATTEMPTS = 4
QUIET = 0.03


def judge(what, failures, noisy):
    """After all attempts: fail if every quiet attempt broke an upper bound."""
    if failures:
        pytest.fail(f"{what}: upper bounds broken in every quiet attempt: {failures}; "
                    f"noisy attempts (steal): {noisy}")
    warnings.warn(f"{what}: upper bounds not checked, CPU steal in every attempt: {noisy}")


@pytest.mark.parametrize("sink", ["tcp", "udp"])
def test_fixed_delay_is_reported_as_it_is(tmp, sink):
    """Every reply comes 2 ms after the server read the message. Latency is lateness + service,
    so nothing may be reported below 2 ms; above it, p50 may add the loopback and wake-up costs
    (0.5 ms) and p99 the scheduling noise of a shared 2-core VM, where a vCPU is taken away for
    several ms at a time (8 ms). One worker thread leaves the other core to the server."""
    noisy, failures = [], []
    for _ in range(ATTEMPTS):
        with StealMeter() as steal:
            server = Server(tmp, sink=sink, echo=True, extra=["--delay", "2ms"])
            run = run_tool(tmp, ["--sink", sink, "--port", str(server.port), "--devices", "50",
                                 "--msg", "100", "--duration", "4s", "--echo", "--threads", "1",
                                 "--quiet"])
            got = server.stop()
        assert run.returncode == 0, run.stderr
        c = run.counters
        assert c["sent"] == 20_000 == got["messages"] == c["completed"]
        for name in ("latency", "service"):
            h = run.result["histograms"][name]
            # Nothing can come back sooner than the delay; a lower value would be a lie.
            assert h["min"] >= 2 * MS - BUCKET, (name, h)
        if steal.share > QUIET:
            noisy.append(f"{steal.share:.0%}")
            continue
        broken = [(name, p) for name in ("latency", "service")
                  for p in [run.result["histograms"][name]["percentiles"]]
                  if p["p50"] > 2.5 * MS or p["p99"] > 10 * MS]
        if not broken:
            break
        failures.append((broken, f"steal {steal.share:.0%}"))
    else:
        judge(f"{sink} delay", failures, noisy)


def test_stall_shows_in_latency_not_in_service_time(tmp):
    """A 1 s stall every 10 s at a constant 1000 msg/s. Each message sent during a stall waits
    for its end, so its latency from the intended send time is uniform on [0, 1 s], and those are
    stall/period = 10% of all messages: the share above t is (1 s - t) / 10 s, p95 = 500 ms,
    p99 = 900 ms. With one message in flight per device (closed loop, like wrk), the service time
    from the actual send sees only the few messages in flight when each stall began."""
    noisy, failures = [], []
    for _ in range(ATTEMPTS):
        with StealMeter() as steal:
            server = Server(tmp, echo=True, extra=["--stall", "1s", "--stall-every", "10s"])
            run = run_tool(tmp, ["--port", str(server.port), "--devices", "10", "--msg", "100",
                                 "--duration", "20s", "--echo", "--inflight", "1", "--backlog",
                                 "1000", "--timeout", "3s", "--quiet"])
            got = server.stop()
        assert run.returncode == 0, run.stderr
        c = run.counters
        assert c["sent"] == 20_000 == got["messages"] == c["completed"], (c, got)
        assert c["missed"] == 0 and c["lost"] == 0
        assert got["stalls"] == 2
        latency = run.result["histograms"]["latency"]
        service = run.result["histograms"]["service"]
        # The arithmetic, on bounds scheduling noise (tens of ms) cannot move: the share above
        # 100 ms is (1 s - 100 ms) / 10 s = 9 %, above 500 ms 5 %; the stall starts a few ms
        # before the run's own period (the server counts from the first connection).
        assert 0.08 <= share_above(latency["hdr"], 100 * MS) <= 0.10
        assert 0.045 <= share_above(latency["hdr"], 500 * MS) <= 0.055
        assert 430 * MS <= latency["percentiles"]["p95"] <= 570 * MS, latency["percentiles"]
        assert 850 * MS <= latency["percentiles"]["p99"] <= 1000 * MS, latency["percentiles"]
        # The uncorrected view: only the 10 devices x 2 stalls caught in flight (0.1 %) waited.
        assert share_above(service["hdr"], 100 * MS) <= 0.002
        assert service["max"] >= 900 * MS
        assert "coordinated-omission free" in run.stdout and "uncorrected" in run.stdout
        if steal.share > QUIET:
            noisy.append(f"{steal.share:.0%}")
            continue
        # Upper bounds: (1 s - 10 ms) / 10 s = 9.9 % above 10 ms; service p99 in the noise.
        above = share_above(latency["hdr"], 10 * MS)
        if 0.085 <= above <= 0.11 and service["percentiles"]["p99"] < 50 * MS:
            break
        failures.append((above, service["percentiles"]["p99"], f"steal {steal.share:.0%}"))
    else:
        judge("stall", failures, noisy)


def test_udp_drops_are_counted_exactly_as_lost(tmp):
    server = Server(tmp, sink="udp", echo=True, extra=["--drop", "0.05", "--seed", "7"])
    run = run_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices", "20", "--msg",
                         "100", "--duration", "4s", "--echo", "--timeout", "2s", "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["sent"] == 8_000 == got["messages"]
    assert c["sent"] == c["completed"] + c["lost"]
    assert c["lost"] == got["dropped"], (c, got)
    assert 0.035 <= c["lost"] / c["sent"] <= 0.065
    assert c["duplicates"] == 0


@pytest.mark.parametrize("devices,msg", [(10, 100), (100, 100), (1000, 100)],
                         ids=["1k", "10k", "100k"])
def test_every_interval_holds_the_rate(tmp, devices, msg):
    server = Server(tmp)
    run = run_tool(tmp, ["--port", str(server.port), "--devices", str(devices), "--msg", str(msg),
                         "--duration", "6s", "--update", "1s", "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    target = devices * msg
    assert run.counters["sent"] == 6 * target == got["messages"]
    assert run.counters["missed"] == 0
    whole = [i for i in run.result["intervals"] if i["length_ns"] == 1_000_000_000]
    assert len(whole) >= 6
    # The first interval includes the start-up; after it, each one is within 0.5 % of target.
    for i in whole[1:]:
        achieved = i["counters"]["sent"] / (i["length_ns"] / 1e9)
        assert abs(achieved - target) <= 0.005 * target, (i["index"], achieved, target)
