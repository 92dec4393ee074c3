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
