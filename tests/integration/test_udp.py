"""UDP against the built-in server: counts, echo round trips, loss when the server goes away."""
import time

from conftest import SANITIZED, Server, run_tool, start_tool

import pytest

pytestmark = pytest.mark.skipif(SANITIZED, reason="measures rates: normal build only")


def test_fire_and_forget_counts_match_the_server(tmp):
    server = Server(tmp, sink="udp")
    run = run_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices", "100",
                         "--msg", "100", "--duration", "3s", "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    assert run.counters["sent"] == 30_000
    assert got["messages"] == run.counters["sent"] and got["malformed"] == 0


def test_echo_matches_every_reply(tmp):
    server = Server(tmp, sink="udp", echo=True)
    run = run_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices", "100",
                         "--msg", "100", "--duration", "3s", "--echo", "--quiet"])
    server.stop()
    c = run.counters
    assert run.returncode == 0, run.stderr
    assert c["sent"] == 30_000
    assert c["completed"] + c["lost"] == c["sent"]
    assert c["lost"] == 0 and c["duplicates"] == 0
    assert run.result["histograms"]["latency"]["percentiles"]["p99"] > 0


def test_loss_is_reported_when_the_server_stops(tmp):
    server = Server(tmp, sink="udp", echo=True)
    proc, json_path = start_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices",
                                       "20", "--msg", "100", "--duration", "4s", "--echo",
                                       "--timeout", "300ms", "--quiet"])
    time.sleep(1.5)
    server.kill()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    import json
    c = json.loads(json_path.read_text())["counters"]
    assert c["sent"] == 8_000
    assert c["lost"] > 1_000, c
    assert c["completed"] + c["lost"] == c["sent"]
    assert "lost" in out


def test_inflight_limits_unanswered_datagrams_per_device(tmp):
    # Replies take 50 ms and each device may have one unanswered: at most one send per 50 ms
    # per device, over the 2 s run and the 1 s drain (--timeout) in which the backlog of
    # messages due during the run still goes out; the rest overflows the backlog: missed.
    server = Server(tmp, sink="udp", echo=True, extra=["--delay", "50ms"])
    run = run_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices", "5", "--msg",
                         "100", "--duration", "2s", "--echo", "--inflight", "1", "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["sent"] + c["missed"] == 1_000
    assert c["sent"] <= 5 * (3_000 // 50 + 2), c
    assert c["missed"] > 0
    assert c["sent"] == c["completed"] + c["lost"] == got["messages"]


def test_a_device_whose_socket_cannot_open_retries_and_is_counted(tmp):
    server = Server(tmp, sink="udp")
    # 192.0.2.1 (TEST-NET-1) is on no interface here: bind() fails, nothing is sent anywhere.
    run = run_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices", "4", "--msg",
                         "10", "--duration", "2s", "--source-ip", "127.0.0.1,192.0.2.1",
                         "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert run.result["run"]["connected_at_start"] == 2
    assert c["err_unreachable"] >= 4  # the first attempts and at least one retry each
    assert c["sent"] == got["messages"] == 40
    assert c["sent"] + c["missed"] == 80
