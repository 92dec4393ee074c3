"""Arrival processes and waiting modes, end to end against the built-in server."""
import math

from conftest import SANITIZED, Server, run_tool

import pytest

pytestmark = pytest.mark.skipif(SANITIZED, reason="measures rates: normal build only")


def test_poisson_arrivals_keep_the_mean_rate(tmp):
    server = Server(tmp)
    run = run_tool(tmp, ["--port", str(server.port), "--devices", "100", "--rate", "5k",
                         "--duration", "4s", "--arrival", "poisson", "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    sent, expected = run.counters["sent"], 20_000
    assert abs(sent - expected) < 5 * math.sqrt(expected), sent  # Poisson count: sd = sqrt(mean)
    assert got["messages"] == sent
    assert run.result["options"]["arrival"] == "poisson"


def test_precise_waiting_sends_every_message(tmp):
    server = Server(tmp)
    run = run_tool(tmp, ["--port", str(server.port), "--devices", "10", "--msg", "500",
                         "--duration", "2s", "--precise", "--threads", "1", "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    assert run.counters["sent"] == 10_000 == got["messages"]
    assert run.result["options"]["precise"] is True
