"""The NATS sink against a real nats-server (tests/integration/nats.py): the tool's counts checked
against the server's own (/varz), request/reply with in-tool responders and an existing service,
end to end, headers, credentials, TLS, the server's limits, 10,000 connections, a server that is
down, killed or stalled, and bad input."""
import json
import os
import signal
import struct
import subprocess
import time

import pytest

from conftest import (BINARY, SANITIZED, assert_usage_error, free_port, run_tool,
                      start_tool)
from nats import Client, NatsServer, Responder

SCALE = 0.2 if SANITIZED else 1.0


def summary(run):
    return "\n".join(line for line in run.stdout.splitlines() if not line.startswith("["))


def test_100_devices_at_1000_every_message_in_the_servers_count(tmp, nats):
    rate = int(1000 * SCALE)
    before = nats.varz()["in_msgs"]
    run = run_tool(tmp, ["--url", nats.url(), "--devices", "100", "--msg", str(rate),
                         "--duration", "10s", "--quiet"], timeout=120)
    assert run.returncode == 0, run.stderr
    c = run.counters
    target = 100 * rate * 10
    assert c["sent"] == target and c["missed"] == 0, summary(run)
    # Every message confirmed by a PONG, and the server's own count agrees exactly.
    assert c["completed"] == c["sent"] and c["lost"] == 0, summary(run)
    assert nats.wait_varz("in_msgs", lambda n: n - before >= target) - before == target
    achieved = run.result["rate"]["achieved"]
    assert abs(achieved / (100 * rate) - 1) <= 0.005, summary(run)
    assert run.result["histograms"]["latency"]["count"] == c["sent"]
    assert run.result["options"]["nats"]["mode"] == "pub"
    assert "a PONG from the server confirmed" in run.stdout


def test_request_mode_with_in_tool_responders(tmp, nats):
    before = nats.varz()["in_msgs"]
    run = run_tool(tmp, ["--url", nats.url(), "--nats-mode", "request", "--responders", "4",
                         "--devices", "50", "--msg", "100", "--duration", "5s", "--threads", "2",
                         "--quiet"], timeout=120)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["sent"] == 25000 and c["completed"] == c["sent"], summary(run)
    assert c["lost"] == 0 and c["late_replies"] == 0 and c["err_no_responders"] == 0
    latency = run.result["histograms"]["latency"]
    p = latency["percentiles"]
    assert latency["count"] == c["completed"]
    assert 0 < p["p50"] <= p["p99"] <= latency["max"], latency
    # Each request and each reply is one message the server received.
    assert nats.wait_varz("in_msgs", lambda n: n - before >= 50000) - before == 50000
    assert "to the reply" in run.stdout


def test_request_mode_against_an_existing_service(tmp, nats):
    with Responder(nats.port, "svc.*", queue="svc") as service:
        run = run_tool(tmp, ["--url", nats.url(), "--nats-mode", "request", "--subject",
                             "svc.{device}", "--devices", "10", "--msg", "50", "--duration",
                             "2s", "--quiet"], timeout=60)
        assert run.returncode == 0, run.stderr
        c = run.counters
        assert c["completed"] == c["sent"] == 1000, summary(run)
        assert service.requests == 1000


def test_request_nobody_answers(tmp, nats):
    run = run_tool(tmp, ["--url", nats.url(), "--nats-mode", "request", "--subject", "nobody",
                         "--devices", "5", "--msg", "20", "--duration", "1s"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["err_no_responders"] == c["sent"] == 100 and c["completed"] == 0, summary(run)
    assert 'no responders for "nobody"' in run.stderr


def test_closed_loop_requests(tmp, nats):
    run = run_tool(tmp, ["--url", nats.url(), "--nats-mode", "request", "--responders", "2",
                         "--devices", "10", "--rate", "max", "--inflight", "8", "--duration",
                         "2s", "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["completed"] == c["sent"] > 1000 and c["lost"] == 0, summary(run)
    assert run.result["rate"]["closed_loop"] is True


def test_e2e_every_message_received_once(tmp, nats):
    rate = int(200 * SCALE)
    before = nats.varz()["out_msgs"]
    run = run_tool(tmp, ["--url", nats.url(), "--nats-mode", "e2e", "--subscribers", "4",
                         "--devices", "100", "--msg", str(rate), "--duration", "5s",
                         "--threads", "2", "--quiet"], timeout=120)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["sent"] == 100 * rate * 5 and c["completed"] == c["sent"], summary(run)
    assert c["e2e_received"] == c["sent"] and c["e2e_duplicates"] == 0, summary(run)
    e2e = run.result["histograms"]["e2e"]
    assert e2e["count"] == c["sent"] and 0 < e2e["percentiles"]["p50"] <= e2e["max"]
    # The server delivered each message exactly once: to one subscriber of the tool.
    assert nats.varz()["out_msgs"] - before == c["sent"]
    assert "end to end  received" in run.stdout


def test_headers_reach_a_subscriber(tmp, nats):
    with Client(nats.port, keep=True) as sub:
        sub.sub("hdr.>")
        sub.flush()
        run = run_tool(tmp, ["--url", nats.url(), "--subject", "hdr.{device}", "-H",
                             "X-Run: 42", "-H", "X-Team: load", "--devices", "2", "--msg", "10",
                             "--payload", "100", "--duration", "1s", "--quiet"], timeout=60)
        assert run.returncode == 0, run.stderr
        assert sub.wait_count(20) == 20
        for m in sub.messages():
            assert m.headers.startswith(b"NATS/1.0\r\n"), m
            assert b"X-Run: 42\r\n" in m.headers and b"X-Team: load\r\n" in m.headers
            assert len(m.payload) == 100
            assert struct.unpack_from("<I", m.payload)[0] == 100  # the tool's wire header
        assert {m.subject for m in sub.messages()} == {"hdr.0", "hdr.1"}


def test_token_from_a_file_or_the_environment(tmp):
    with NatsServer(tmp, auth="token") as server:
        args = ["--url", server.url(), "--devices", "2", "--msg", "10", "--duration", "1s",
                "--quiet", "--connect-timeout", "1s"]
        good = run_tool(tmp, args + ["--token-file", str(server.token_file)], timeout=60)
        assert good.returncode == 0, good.stderr
        assert good.counters["completed"] == 20
        assert server.token not in good.stdout + good.stderr + json.dumps(good.result)

        env = dict(os.environ, LT_TOKEN=server.token)
        proc = subprocess.run([BINARY, *args], capture_output=True, text=True, env=env,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr

        wrong = f"{tmp}/wrong"
        open(wrong, "w").write("not-the-token\n")
        bad = run_tool(tmp, args + ["--token-file", wrong], timeout=60)
        assert bad.returncode == 1, bad.stderr
        assert bad.counters["err_broker"] >= 2 and bad.counters["sent"] == 0
        assert "Authorization Violation" in bad.stderr
        assert bad.stderr.count("Authorization Violation") == 1, bad.stderr  # printed once


def test_user_and_password(tmp):
    with NatsServer(tmp, auth="user") as server:
        args = ["--url", server.url(), "--username", server.username, "--devices", "3",
                "--msg", "10", "--duration", "1s", "--quiet", "--connect-timeout", "1s"]
        good = run_tool(tmp, args + ["--password-file", str(server.password_file)], timeout=60)
        assert good.returncode == 0, good.stderr
        assert good.counters["completed"] == 30
        assert server.password not in good.stdout + good.stderr + json.dumps(good.result)
        assert good.result["options"]["nats"]["username"] == server.username
        bad = run_tool(tmp, args, timeout=60)  # no password
        assert bad.returncode == 1 and "Authorization Violation" in bad.stderr, bad.stderr


def test_tls_verifies_the_server(tmp):
    with NatsServer(tmp, tls=True) as server:
        args = ["--devices", "2", "--msg", "10", "--duration", "1s", "--quiet",
                "--connect-timeout", "1s"]
        bad = run_tool(tmp, ["--url", server.tls_url(), *args], timeout=60)
        assert bad.returncode == 1 and "certificate verify failed" in bad.stderr, bad.stderr
        assert bad.counters["err_tls"] >= 2
        good = run_tool(tmp, ["--url", server.tls_url(), "--ca-file", str(server.ca_file),
                              "--nats-mode", "e2e", *args], timeout=60)
        assert good.returncode == 0, good.stderr
        c = good.counters
        assert c["completed"] == 20 and c["e2e_received"] == 20, summary(good)
        assert good.result["histograms"]["tls_handshake"]["count"] == 3  # 2 devices, 1 subscriber
        plain = run_tool(tmp, ["--url", server.url(), *args], timeout=60)
        assert plain.returncode == 1 and "requires TLS" in plain.stderr, plain.stderr


def test_tls_to_a_server_without_it(tmp, nats):
    run = run_tool(tmp, ["--url", f"tls://127.0.0.1:{nats.port}", "--insecure", "--devices", "1",
                         "--msg", "10", "--duration", "500ms", "--connect-timeout", "500ms",
                         "--quiet"], timeout=60)
    assert run.returncode == 1 and "does not offer TLS" in run.stderr, run.stderr


def test_payload_over_the_servers_max_payload(tmp):
    with NatsServer(tmp, max_payload=1024) as server:
        run = run_tool(tmp, ["--url", server.url(), "--payload", "2048", "--devices", "2",
                             "--msg", "10", "--duration", "1s", "--connect-timeout", "500ms",
                             "--quiet"], timeout=60)
        assert run.returncode == 1, run.stderr
        assert "--payload 2048 exceeds the server's max_payload of 1024 bytes" in run.stderr
        assert run.counters["err_broker"] >= 2 and run.counters["sent"] == 0
        # The limit covers the headers too: 1000 + 43 header bytes do not fit.
        run = run_tool(tmp, ["--url", server.url(), "--payload", "1000", "-H",
                             "X-Padding: " + "p" * 18, "--devices", "1", "--msg", "10",
                             "--duration", "500ms", "--connect-timeout", "500ms", "--quiet"],
                       timeout=60)
        assert run.returncode == 1, run.stderr
        assert "--payload 1000 with 43 header bytes exceeds" in run.stderr
        assert server.varz()["in_msgs"] == 0


def test_publish_denied_is_counted_as_rejected(tmp):
    deny = ('authorization {\n  users = [ {user: "pub", password: "pw", permissions: '
            '{publish: {deny: ["load-tester.>"]}}} ]\n}')
    with NatsServer(tmp, extra=deny) as server:
        pw = f"{tmp}/pw"
        open(pw, "w").write("pw")
        run = run_tool(tmp, ["--url", server.url(), "--username", "pub", "--password-file", pw,
                             "--devices", "2", "--msg", "20", "--duration", "1s", "--quiet"],
                       timeout=60)
        assert run.returncode == 0, run.stderr
        c = run.counters
        assert c["err_rejected"] == c["sent"] == 40, summary(run)
        assert c["completed"] == 0 and c["lost"] == 0 and c["disconnects"] == 0
        assert "Permissions Violation" in run.stderr
        # A refused request is rejected, not also lost when no reply comes.
        run = run_tool(tmp, ["--url", server.url(), "--username", "pub", "--password-file", pw,
                             "--nats-mode", "request", "--devices", "2", "--msg", "20",
                             "--duration", "1s", "--timeout", "200ms", "--quiet"], timeout=60)
        assert run.returncode == 0, run.stderr
        c = run.counters
        assert c["err_rejected"] == c["sent"] == 40 and c["lost"] == 0, summary(run)


def test_slow_consumer_is_cut_off_counted_and_reconnects(tmp):
    # A subscriber the server gives up on (pending data over max_pending, or a write blocked
    # past write_deadline) is closed without an -ERR: counted as a disconnect, reconnected.
    slow = 'max_pending: 131072\nmax_payload: 65536\nwrite_deadline: "200ms"'
    with NatsServer(tmp, extra=slow) as server:
        run = run_tool(tmp, ["--url", server.url(), "--nats-mode", "e2e", "--subscribers", "1",
                             "--devices", "10", "--msg", "300", "--payload", "60KiB",
                             "--duration", "3s", "--quiet"], timeout=60)
        assert run.returncode == 0, run.stderr
        c = run.counters
        cut = server.varz()["slow_consumers"]
        assert cut >= 1, summary(run)
        assert c["disconnects"] == cut and c["reconnects"] >= 1, summary(run)
        assert c["completed"] == c["sent"] and c["e2e_received"] < c["sent"], summary(run)
        assert c["e2e_duplicates"] == 0


def test_server_down_at_start(tmp):
    run = run_tool(tmp, ["--sink", "nats", "--port", str(free_port()), "--devices", "3",
                         "--msg", "10", "--duration", "1s", "--connect-timeout", "300ms"],
                   timeout=30)
    assert run.returncode == 1, run.stderr
    c = run.counters
    assert c["err_refused"] >= 3 and c["missed"] == 30 and c["sent"] == 0


def test_server_killed_mid_run_and_back(tmp, nats):
    proc, json_path = start_tool(tmp, ["--url", nats.url(), "--devices", "20", "--msg", "50",
                                       "--duration", "5s", "--quiet"])
    time.sleep(1.5)
    nats.kill()
    time.sleep(1.0)
    nats.restart()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(json_path.read_text())
    c = result["counters"]
    assert c["disconnects"] >= 20 and c["reconnects"] >= 20, c
    assert c["err_closed"] + c["err_reset"] > 0 and c["err_refused"] > 0, c
    # Every due message is accounted for, and every sent one is confirmed or lost.
    assert c["sent"] + c["missed"] == 20 * 50 * 5, c
    assert c["completed"] + c["lost"] == c["sent"], c
    # The restarted server counted exactly what was confirmed after the restart: nothing is
    # confirmed that it did not receive.
    assert 0 < nats.varz()["in_msgs"] <= c["completed"]
    last_second = [p for p in result["intervals"] if p["index"] == 4]
    assert last_second and last_second[0]["counters"]["sent"] > 0, result["intervals"]


def test_stalled_server_is_detected(tmp, nats):
    proc, json_path = start_tool(tmp, ["--url", nats.url(), "--devices", "5", "--msg", "20",
                                       "--duration", "10s", "--ping-interval", "200ms",
                                       "--nats-mode", "e2e", "--subscribers", "2", "--quiet"])
    time.sleep(1.0)
    os.kill(nats.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(6.5)  # past the PING deadline (5 s at least)
    finally:
        os.kill(nats.proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    c = json.loads(json_path.read_text())["counters"]
    # Unanswered PINGs closed the connections (err_timeout); they came back after the stall.
    assert c["err_timeout"] >= 5 and c["reconnects"] >= 5, c
    assert c["completed"] + c["lost"] == c["sent"] and c["sent"] + c["missed"] == 5 * 20 * 10, c
    # Messages of the old connections delivered after the new ones' are late, not duplicates.
    assert c["e2e_duplicates"] == 0 and c["e2e_received"] > 0, c
    assert "the server stalled" in err


@pytest.mark.skipif(SANITIZED, reason="10,000 connections: normal build only")
def test_10000_connections(tmp, nats):
    proc, json_path = start_tool(tmp, ["--url", nats.url(), "--devices", "10000", "--msg", "1",
                                       "--connect-rate", "5000", "--connect-timeout", "10s",
                                       "--duration", "4s", "--quiet"])
    assert nats.wait_varz("connections", lambda n: n >= 10000, timeout=30) == 10000
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(json_path.read_text())
    c = result["counters"]
    assert result["run"]["connected_at_start"] == 10000
    assert c["sent"] == c["completed"] == 40000 and c["lost"] == 0, c
    assert nats.wait_varz("in_msgs", lambda n: n >= 40000) == 40000


@pytest.mark.parametrize("args,flag", [
    (["--sink", "nats", "--subject", "a.*"], "--subject"),
    (["--sink", "nats", "--subject", "a..b"], "--subject"),
    (["--sink", "nats", "--subject", "a.{nope}"], "--subject"),
    (["--sink", "nats", "--nats-mode", "reply"], "--nats-mode"),
    (["--sink", "nats", "--responders", "2"], "--responders"),
    (["--sink", "nats", "--nats-mode", "e2e", "--subscribers", "0"], "--subscribers"),
    (["--sink", "nats", "--token-file", "/nonexistent/t"], "--token-file"),
    (["--sink", "nats", "--ping-interval", "1ms"], "--ping-interval"),
    (["--sink", "nats", "-H", "no colon"], "--header"),
    (["--url", "nats://127.0.0.1:4222/x"], "--url"),
    (["--sink", "tcp", "--subject", "x"], "--subject"),
])
def test_bad_nats_input(args, flag):
    r = subprocess.run([BINARY, *args, "--noexec"], capture_output=True, text=True, timeout=30)
    assert_usage_error(r, args, flag)


def test_noexec_shows_the_plan(tmp):
    r = subprocess.run([BINARY, "--url", "nats://127.0.0.1:4222", "--nats-mode", "request",
                        "--responders", "2", "--devices", "4", "--noexec"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "nats         request to load-tester.{device}" in r.stdout
    assert "2 responder(s) inside the tool" in r.stdout


@pytest.mark.parametrize("kib", [500, 50])
def test_server_that_reads_slower_than_the_rate(tmp, nats, kib):
    """A server behind a proxy that reads 500 KiB/s per connection, a third of the 1.5 MiB/s
    each device offers (tests/integration/slow_proxy.py). Once the kernel buffers and the tool's
    own (256 KiB) are full each device publishes as the proxy makes room and counts the rest
    missed; a PING waits behind that queue (about 0.8 s here), well inside the PING deadline
    (5 s) and the drain bound (--timeout 3s). Slow is not dead: no connection is given up, every
    message sent is confirmed by a PONG, the server counted exactly those, and the tool does not
    hold the surplus. At 50 KiB/s the queue takes ~10 s, past the PING deadline (5 s): the
    server is seen taking our bytes all along, so it is waited for (it was given up as stalled
    before); a PONG then comes only after the run's drain bound, so what was sent is lost at
    the end, though the server has it."""
    from slow_proxy import assert_slow_not_dead, publish_through
    devices, msg, seconds, rate = 3, 1500, 6, kib * 1024
    before = nats.varz()["in_msgs"]
    run, elapsed, during = publish_through(tmp, nats.port, ["--sink", "nats", "--timeout", "3s"],
                                           devices, msg, seconds, rate)
    assert_slow_not_dead(run, elapsed, during, devices, msg, seconds, rate, missed_share=0.4)
    assert elapsed < seconds + 3 + 2, elapsed  # the drain is bounded by --timeout (3 s)
    c = run.counters
    received = nats.varz()["in_msgs"] - before
    if kib == 50:  # sent is what got through: the proxy's pace, no confirmation in time
        assert c["sent"] > 0.5 * devices * rate * seconds / 1060, c
        assert c["completed"] + c["lost"] == c["sent"], c
        assert c["completed"] <= received <= c["sent"], (received, c)
    else:
        assert c["completed"] > 0.5 * devices * rate * seconds / 1060, c
        assert c["completed"] == c["sent"] and c["lost"] == 0, c
        assert received == c["completed"], c
