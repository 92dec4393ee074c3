"""Faults of the network between the tool and a real target, made with nftables (root): every
connection reset at once, or a peer that vanishes without a word. Each sink must name the fault
by its kind, reconnect when the path is back and keep the schedule."""
import json
import time

import pytest

from conftest import Server, start_tool
from netfault import blackhole, needs_nft, reset

pytestmark = needs_nft

DEVICES = 10
MSG = 10


def _target(request, sink):
    """(arguments, port) of a real target of `sink` on loopback."""
    if sink == "tcp":
        server = Server(request.getfixturevalue("tmp"), echo=True)
        request.addfinalizer(server.kill)
        return ["--port", str(server.port), "--echo"], server.port
    name = {"http": "nginx", "mqtt": "mosquitto", "nats": "nats", "amqp": "rabbitmq_module"}[sink]
    target = request.getfixturevalue(name)
    if sink == "amqp":  # guest's password is the default; a URL may not carry one
        return [f"--url=amqp://127.0.0.1:{target.port}/", "--queue", "lt-net", "--declare"], \
            target.port
    extra = ["--qos", "1"] if sink == "mqtt" else []
    return ["--url", target.url(), *extra], target.port


def _run_through(tmp, args, seconds, fault, at=1.5, hold=1.0):
    proc, json_path = start_tool(tmp, [*args, "--devices", str(DEVICES), "--msg", str(MSG),
                                       "--duration", f"{seconds}s", "--quiet"])
    began = time.monotonic()
    time.sleep(at)
    with fault:
        time.sleep(hold)
    out, err = proc.communicate(timeout=60)
    elapsed = time.monotonic() - began
    assert proc.returncode == 0, err
    assert elapsed < seconds + 10, elapsed  # the drain is bounded
    return json.loads(json_path.read_text()), err


def _back_at_rate(result):
    last = [p for p in result["intervals"] if p["length_ns"] == 1_000_000_000][-1]
    assert last["counters"]["sent"] >= 0.95 * DEVICES * MSG, last
    assert last["counters"]["completed"] >= 0.9 * DEVICES * MSG, last


@pytest.mark.parametrize("sink", ["tcp", "http", "mqtt", "nats", "amqp"])
def test_connections_reset_are_counted_as_resets_and_reconnect(request, tmp, sink):
    args, port = _target(request, sink)
    result, err = _run_through(tmp, args, 5, reset(port))
    c = result["counters"]
    # Each open connection is reset once, on its next write; while the rule holds, every
    # reconnect is refused. Nothing of it may be filed as a clean close or a timeout.
    assert c["err_reset"] == c["disconnects"] == DEVICES, c
    assert c["err_refused"] >= DEVICES and c["reconnects"] >= DEVICES, c
    assert c["err_closed"] == c["err_timeout"] == c["err_connect_timeout"] == 0, c
    # What was in flight when the RST came is lost (usually the write that drew it; a bare ACK
    # can draw it too); the rest of the gap waits in the backlog and goes out after the reconnect.
    assert c["completed"] + c["lost"] == c["sent"], c
    assert c["lost"] <= DEVICES * MSG, c
    assert c["sent"] + c["missed"] == DEVICES * MSG * 5, c
    _back_at_rate(result)


# Each protocol's own liveness check, with TCP's (--peer-timeout) turned off so that it alone
# can find the peer: (sink, its flags, how long until it must have, run length).
LIVENESS = [
    ("http", ["--timeout", "1s"], 3.0, 7),  # each request's own deadline
    # A QoS 0 publisher is never quiet, so only a ping on the broker's silence finds it.
    ("mqtt", ["--qos", "0", "--keepalive", "2s"], 4.5, 9),
    ("nats", ["--ping-interval", "1s"], 7.0, 11),  # the PING deadline is 5 s at the least
    ("amqp", ["--heartbeat", "2s"], 6.0, 10),       # two heartbeats of silence
]


@pytest.mark.parametrize("sink,flags,hold,seconds", LIVENESS, ids=[s for s, *_ in LIVENESS])
def test_a_peer_that_vanishes_is_found_by_the_protocols_liveness_check(
        request, tmp, sink, flags, hold, seconds):
    args, port = _target(request, sink)
    result, err = _run_through(tmp, [*args, *flags, "--peer-timeout", "0"], seconds,
                               blackhole(port), hold=hold)
    c = result["counters"]
    # Given up once per device, as a timeout; its reconnects cannot get through while the path
    # is dead (their own kind), and get back once it lives.
    assert c["err_timeout"] == c["disconnects"] == DEVICES, c
    assert c["err_reset"] == c["err_closed"] == 0, c
    assert c["reconnects"] >= DEVICES, c
    assert c["sent"] + c["missed"] == DEVICES * MSG * seconds, c
    _back_at_rate(result)
