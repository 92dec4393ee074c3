"""The MQTT sink against a real mosquitto (tests/integration/mosquitto.py): acknowledged and
end-to-end counts checked against the broker's own, authentication, TLS, 10,000 connections,
a broker that is down or killed, and bad input."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import (BINARY, SANITIZED, assert_usage_error, free_port, run_tool,
                      start_tool)

SCALE = 0.2 if SANITIZED else 1.0


def summary(run):
    return "\n".join(line for line in run.stdout.splitlines() if not line.startswith("["))


def test_1000_devices_qos1_every_message_acknowledged_and_received(tmp, mosquitto):
    devices = int(1000 * SCALE)
    run = run_tool(tmp, ["--url", mosquitto.url(), "--devices", str(devices), "--msg", "10",
                         "--qos", "1", "--duration", "10s", "--subscribers", "4", "--quiet"],
                   timeout=120)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["sent"] == devices * 10 * 10, summary(run)
    assert c["completed"] == c["sent"] and c["lost"] == 0 and c["missed"] == 0
    assert c["e2e_received"] == c["sent"] and c["e2e_duplicates"] == 0, summary(run)
    e2e = run.result["histograms"]["e2e"]
    assert e2e["count"] == c["sent"] and 0 < e2e["percentiles"]["p50"] <= e2e["max"]
    assert run.result["histograms"]["latency"]["count"] == c["sent"]
    # The broker's own count of publishes received from clients.
    assert mosquitto.wait_sys("publish/messages/received", lambda v: v >= c["sent"]) == c["sent"]
    assert "end to end  received" in run.stdout and "PUBACK" in run.stdout


def test_100_devices_at_1000_qos0_delivered_to_a_subscriber(tmp, mosquitto):
    rate = int(1000 * SCALE)
    run = run_tool(tmp, ["--url", mosquitto.url(), "--devices", "100", "--msg", str(rate),
                         "--duration", "10s", "--subscribers", "1", "--quiet"], timeout=120)
    assert run.returncode == 0, run.stderr
    c = run.counters
    target = 100 * rate * 10
    assert c["sent"] == target, summary(run)
    # The original Go tool delivered 92% here; the goal is 99.9% of the target.
    assert c["e2e_received"] >= 0.999 * target, summary(run)
    assert c["e2e_duplicates"] == 0


def test_qos2_and_mqtt5(tmp, mosquitto):
    run = run_tool(tmp, ["--url", mosquitto.url(), "--devices", "20", "--msg", "20", "--qos", "2",
                         "--mqtt-version", "5", "--duration", "2s", "--subscribers", "2",
                         "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["completed"] == c["sent"] == 800 and c["e2e_received"] == 800, summary(run)
    assert "PUBCOMP" in run.stdout
    assert run.result["options"]["mqtt"]["version"] == "5"


def test_closed_loop_qos1(tmp, mosquitto):
    run = run_tool(tmp, ["--url", mosquitto.url(), "--devices", "10", "--rate", "max", "--qos",
                         "1", "--inflight", "8", "--duration", "2s", "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["completed"] == c["sent"] > 1000 and c["lost"] == 0
    assert run.result["rate"]["closed_loop"] is True


@pytest.mark.skipif(SANITIZED, reason="10,000 connections: normal build only")
def test_10000_devices_paced_by_connect_rate(tmp, mosquitto):
    run = run_tool(tmp, ["--url", mosquitto.url(), "--devices", "10000", "--msg", "0.5",
                         "--connect-rate", "5000", "--connect-timeout", "10s", "--keepalive",
                         "30s", "--duration", "4s", "--quiet"], timeout=120)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert run.result["run"]["connected_at_start"] == 10000, summary(run)
    connect = run.result["run"]["connect"]
    assert connect["established"] == 10000
    # Paced, not a storm: never faster than asked (all at once would be far above 5,000/s).
    # Slower is the broker's accepting on a loaded 2-core VM (3,600/s seen once), not pacing;
    # the tool's own pacing accuracy is checked against the built-in server in test_connect.
    assert 0.5 * 5000 <= connect["achieved_rate"] <= 1.05 * 5000, connect
    assert c["sent"] == 20000 and c["completed"] == 20000 and c["lost"] == 0
    assert mosquitto.wait_sys("clients/maximum", lambda v: v >= 10000) >= 10000


def test_password_from_a_file_or_the_environment(tmp, mosquitto_secure):
    b = mosquitto_secure
    args = ["--sink", "mqtt", "--port", str(b.auth_port), "--username", b.username, "--devices",
            "2", "--msg", "10", "--duration", "1s", "--quiet", "--connect-timeout", "1s"]
    good = run_tool(tmp, args + ["--password-file", b.password_file_for_client])
    assert good.returncode == 0, good.stderr
    assert good.counters["completed"] == 20
    assert b.password not in good.stdout + good.stderr + json.dumps(good.result)

    env = dict(os.environ, LT_PASSWORD=b.password)
    proc = subprocess.run([BINARY, *args], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr

    bad_file = f"{tmp}/wrong"
    open(bad_file, "w").write("not-the-password\n")
    bad = run_tool(tmp, args + ["--password-file", bad_file], timeout=60)
    assert bad.returncode == 1, bad.stderr
    assert bad.counters["err_broker"] >= 2 and bad.counters["sent"] == 0
    assert "MQTT connect" in bad.stderr and ("not authorized" in bad.stderr or
                                             "bad user name or password" in bad.stderr)


def test_mqtts_verifies_the_broker(tmp, mosquitto_secure):
    b = mosquitto_secure
    url = f"mqtts://127.0.0.1:{b.tls_port}"
    args = ["--url", url, "--devices", "2", "--msg", "10", "--duration", "1s", "--quiet",
            "--connect-timeout", "1s"]
    bad = run_tool(tmp, args, timeout=60)
    assert bad.returncode == 1 and "certificate verify failed" in bad.stderr, bad.stderr
    good = run_tool(tmp, args + ["--ca-file", b.ca_file, "--subscribers", "1"], timeout=60)
    assert good.returncode == 0, good.stderr
    c = good.counters
    assert c["completed"] == 20 and c["e2e_received"] == 20
    assert good.result["histograms"]["tls_handshake"]["count"] == 3  # 2 devices, 1 subscriber


def test_broker_down_at_start(tmp):
    run = run_tool(tmp, ["--sink", "mqtt", "--port", str(free_port()), "--devices", "3",
                         "--msg", "10", "--duration", "1s", "--connect-timeout", "300ms"],
                   timeout=30)
    assert run.returncode == 1, run.stderr
    c = run.counters
    assert c["err_refused"] >= 3 and c["missed"] == 30 and c["sent"] == 0


def test_broker_killed_mid_run_and_back(tmp, mosquitto):
    proc, json_path = start_tool(tmp, ["--url", mosquitto.url(), "--devices", "20", "--msg",
                                       "20", "--qos", "1", "--duration", "5s", "--quiet"])
    time.sleep(1.5)
    mosquitto.kill()
    time.sleep(1.0)
    mosquitto.restart()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    c = json.loads(json_path.read_text())["counters"]
    assert c["disconnects"] >= 20 and c["reconnects"] >= 20, c
    assert c["err_closed"] + c["err_reset"] > 0 and c["err_refused"] > 0, c
    # Every due message is accounted for; after the restart the devices publish again.
    assert c["sent"] + c["missed"] == 20 * 20 * 5
    assert c["completed"] >= 0.5 * 2000, c
    series = json.loads(json_path.read_text())["intervals"]
    last_second = [p for p in series if p["index"] == 4]
    assert last_second and last_second[0]["counters"]["completed"] > 0, series  # back at the end


def test_stalled_broker_times_out_unacknowledged_publishes(tmp, mosquitto):
    """A broker that stops reading and answering (SIGSTOP) for 3 s: after --timeout without a
    PUBACK each connection is given up as a timeout, its unacknowledged messages lost, and the
    devices' backlogs (64 > 3 s x 20/s) carry the rest until the broker answers again."""
    proc, json_path = start_tool(tmp, ["--url", mosquitto.url(), "--devices", "10", "--msg",
                                       "20", "--qos", "1", "--duration", "7s", "--quiet"])
    time.sleep(1.5)
    os.kill(mosquitto.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(3)
    finally:
        os.kill(mosquitto.proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(json_path.read_text())
    c = result["counters"]
    assert c["err_timeout"] == c["disconnects"] == 10 and c["reconnects"] >= 10, c
    assert c["err_reset"] == c["err_closed"] == 0, c
    assert c["completed"] + c["lost"] == c["sent"] and c["lost"] >= 10, c
    assert c["sent"] + c["missed"] == 10 * 20 * 7, c
    last = [p for p in result["intervals"] if p["length_ns"] == 1_000_000_000][-1]
    assert last["counters"]["completed"] >= 0.9 * 10 * 20, last


@pytest.mark.parametrize("args,flag", [
    (["--sink", "mqtt", "--qos", "3"], "--qos"),
    (["--sink", "mqtt", "--topic", "a/#"], "--topic"),
    (["--sink", "mqtt", "--topic", "a/{nope}"], "--topic"),
    (["--sink", "mqtt", "--devices", "2", "--client-id", "same"], "--client-id"),
    (["--sink", "mqtt", "--mqtt-version", "4"], "--mqtt-version"),
    (["--sink", "mqtt", "--password-file", "/nonexistent/pw"], "--password-file"),
    (["--url", "mqtt://127.0.0.1:0"], "--url"),
    (["--sink", "tcp", "--qos", "1"], "--qos"),
])
def test_bad_mqtt_input(args, flag):
    r = subprocess.run([BINARY, *args, "--noexec"], capture_output=True, text=True, timeout=30)
    assert_usage_error(r, args, flag)


class SlowAckBroker:
    """A minimal MQTT 5 broker for one client: its CONNACK sets Receive Maximum 3, it acknowledges
    each QoS 1 PUBLISH 20 ms late, and it records the most publishes ever unacknowledged."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.max_unacked = 0
        self.publishes = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        lock = threading.Lock()
        unacked = []
        buf = b""

        def packet():
            nonlocal buf
            while True:
                if len(buf) >= 2:
                    length, mult, i = 0, 1, 1
                    while i < len(buf) and i <= 4:
                        length += (buf[i] & 0x7F) * mult
                        mult *= 128
                        if not buf[i] & 0x80:
                            break
                        i += 1
                    if i < len(buf) and len(buf) >= i + 1 + length:
                        p, buf = buf[:i + 1 + length], buf[i + 1 + length:]
                        return p[0], p[i + 1:]
                chunk = conn.recv(65536)
                if not chunk:
                    return None
                buf += chunk

        def acker():
            while True:
                time.sleep(0.02)
                with lock:
                    due, unacked[:] = list(unacked), []
                try:
                    for pid in due:
                        conn.sendall(bytes([0x40, 2]) + pid.to_bytes(2, "big"))
                except OSError:
                    return

        first = packet()
        if not first or first[0] >> 4 != 1:
            return
        conn.sendall(bytes([0x20, 6, 0, 0, 3, 0x21, 0, 3]))  # CONNACK, Receive Maximum 3
        threading.Thread(target=acker, daemon=True).start()
        while True:
            p = packet()
            if p is None:
                return
            kind, body = p
            if kind >> 4 == 3:
                topic_len = int.from_bytes(body[:2], "big")
                pid = int.from_bytes(body[2 + topic_len:4 + topic_len], "big")
                with lock:
                    self.publishes += 1
                    unacked.append(pid)
                    self.max_unacked = max(self.max_unacked, len(unacked))
            elif kind >> 4 == 12:
                conn.sendall(bytes([0xD0, 0]))

    def close(self):
        self.sock.close()


def test_mqtt5_receive_maximum_is_honoured(tmp):
    # The broker allows 3 unacknowledged QoS 1 publishes; the tool may keep 100 in flight by
    # --inflight: it must keep to the broker's 3.
    broker = SlowAckBroker()
    try:
        run = run_tool(tmp, ["--sink", "mqtt", "--port", str(broker.port), "--mqtt-version", "5",
                             "--qos", "1", "--rate", "max", "--inflight", "100", "--duration",
                             "1s", "--quiet"], timeout=60)
    finally:
        broker.close()
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert broker.max_unacked == 3, broker.max_unacked
    assert c["completed"] >= 3 * 40 and c["err_malformed"] == 0, c


def test_subscribers_take_all_the_broker_sends(tmp, mosquitto):
    # --inflight limits the devices; a subscriber announcing it as its receive maximum would be
    # fed one message at a time.
    run = run_tool(tmp, ["--url", mosquitto.url(), "--mqtt-version", "5", "--qos", "1",
                         "--inflight", "1", "--devices", "20", "--msg", "50", "--duration", "2s",
                         "--subscribers", "1", "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["e2e_received"] == c["sent"] == 2000, summary(run)
    assert run.result["histograms"]["e2e"]["percentiles"]["p50"] < 100_000_000  # < 100 ms


def test_payloads_over_a_mebibyte_reach_the_subscriber(tmp, mosquitto):
    run = run_tool(tmp, ["--url", mosquitto.url(), "--payload", "2MiB", "--msg", "2",
                         "--duration", "2s", "--subscribers", "1", "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["e2e_received"] == c["sent"] == 4 and c["err_malformed"] == 0, summary(run)


@pytest.mark.parametrize("qos,inflight", [(0, 20), (1, 20), (1, 100)])
def test_broker_that_reads_slower_than_the_rate(tmp, mosquitto, qos, inflight):
    """A broker behind a proxy that reads 50 KiB/s per connection, a tenth of the 500 KiB/s each
    device offers (tests/integration/slow_proxy.py). Once the kernel buffers and the tool's own
    (256 KiB) are full each device publishes as the proxy makes room and counts the rest missed.
    QoS 1 keeps --inflight's 20 publishes (20 KiB, 0.4 s at that pace) in flight: the PUBACKs
    come late but well within --timeout (1 s). Slow is not dead: no connection is given up, the
    tool does not hold the surplus, and the broker has exactly what was completed (QoS 0: every
    publish wholly written; QoS 1: at least every acknowledged one, at most every sent one).
    With --inflight 100 (100 KiB, 2 s at that pace) each PUBACK comes past --timeout, but they
    keep coming: the broker is slow, not stuck, and is waited for (it was given up before)."""
    from slow_proxy import assert_slow_not_dead, publish_through
    devices, msg, seconds, rate = 3, 500, 6, 50 * 1024
    run, elapsed, during = publish_through(
        tmp, mosquitto.port, ["--sink", "mqtt", "--qos", str(qos), "--inflight", str(inflight)],
        devices, msg, seconds, rate)
    assert_slow_not_dead(run, elapsed, during, devices, msg, seconds, rate, missed_share=0.5)
    assert elapsed < seconds + 1 + 3, elapsed  # the drain is bounded by --timeout (1 s)
    c = run.counters
    # ... and the devices kept publishing at its pace: at least half of what it let through.
    assert c["completed"] > 0.5 * devices * rate * seconds / 1050, c
    if qos == 0:
        assert c["completed"] == c["sent"] and c["lost"] == 0, c
    else:
        # Acknowledged all along, not in bursts; at the drain bound at most the in-flight
        # window is still unacknowledged: lost.
        for p in run.result["intervals"]:
            if p["length_ns"] == 1_000_000_000 and p["index"] >= 1:
                assert p["counters"]["completed"] > 0.25 * devices * rate / 1050, p
        assert c["completed"] + c["lost"] == c["sent"] and c["lost"] <= devices * inflight, c
    received = mosquitto.wait_sys("publish/messages/received", lambda v: v >= c["completed"],
                                  timeout=5)
    if qos == 0:
        assert received == c["completed"], (received, c)
    else:
        assert received <= c["sent"], (received, c)
