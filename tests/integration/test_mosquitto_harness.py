"""The mosquitto harness itself (tests/integration/mosquitto.py), checked with mosquitto's own
command-line clients, Python's ssl module and hand-built MQTT 3.1.1 packets: what the MQTT
sink's tests will count against must count right first."""
import resource
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from mosquitto import (Mosquitto, MosquittoError, Subscriber, connect_packet, read_connack,
                       DISCONNECT)


def pub(port, topic, *args, check=True, input=None):
    """mosquitto_pub to 127.0.0.1:port; returns the finished process."""
    proc = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
                           *args], capture_output=True, input=input, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def mqtt_connect(port, client_id, timeout=5, **kw):
    """A raw TCP connection that sent CONNECT; returns (socket, CONNACK return code)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(connect_packet(client_id, **kw))
    return s, read_connack(s)


def test_plain_pub_sub_counts_and_lengths(tmp, mosquitto):
    assert mosquitto.url() == f"mqtt://127.0.0.1:{mosquitto.port}"
    assert mosquitto.url("/lt/a") == f"mqtt://127.0.0.1:{mosquitto.port}/lt/a"
    assert mosquitto.port != 1883 and mosquitto.running
    binary = Path(tmp) / "payload.bin"
    binary.write_bytes(bytes(range(256)) * 4 + b"\n\n\x00")  # newlines and NULs in it
    with Subscriber(mosquitto.port, "lt/#", qos=1, directory=tmp) as sub:
        assert sub.count() == 0 and sub.subscriptions == 1
        pub(mosquitto.port, "lt/a", "-m", "hello", "-q", "1")
        pub(mosquitto.port, "lt/b/c", "-f", str(binary), "-q", "0")
        pub(mosquitto.port, "other", "-m", "not for lt/#")
        pub(mosquitto.port, "lt/lines", "-l", "-q", "1", input=b"x\n" * 100)
        assert sub.wait_count(102, settle=0.3) == 102
        msgs = sub.messages()
    assert msgs[0] == ("lt/a", 5, 1, 0)
    assert msgs[1] == ("lt/b/c", 1027, 0, 0)
    assert msgs[2:] == [("lt/lines", 1, 1, 0)] * 100


def test_auth_listener_needs_the_password(tmp, mosquitto_secure):
    b = mosquitto_secure
    assert b.auth_url("/t") == f"mqtt://127.0.0.1:{b.auth_port}/t"
    assert len({b.port, b.auth_port, b.tls_port}) == 3
    assert Path(b.password_file_for_client).read_text() == b.password
    assert b.username not in Path(b.password_file).read_text().split(":", 1)[1]  # hashed
    wrong = pub(b.auth_port, "t", "-m", "x", "-u", b.username, "-P", b.password + "x",
                check=False)
    assert wrong.returncode != 0 and b"not authorised" in wrong.stderr.lower()
    anonymous = pub(b.auth_port, "t", "-m", "x", check=False)
    assert anonymous.returncode != 0 and b"not authorised" in anonymous.stderr.lower()
    # Raw CONNECTs: 5 = not authorized.
    for kw, want in (({}, 5), ({"username": b.username, "password": "nope"}, 5),
                     ({"username": b.username, "password": b.password}, 0)):
        s, code = mqtt_connect(b.auth_port, "lt-raw", **kw)
        s.close()
        assert code == want, kw
    # The right password works, and listeners share one broker: a subscriber on the auth
    # listener gets what is published anonymously on the plain one.
    with Subscriber(b.auth_port, "t/#", qos=1, username=b.username, password=b.password,
                    directory=tmp) as sub:
        pub(b.auth_port, "t/auth", "-m", "x", "-u", b.username, "-P", b.password)
        pub(b.port, "t/plain", "-m", "yy")
        assert sub.wait_count(2) == 2
        assert [m[:2] for m in sub.messages()] == [("t/auth", 1), ("t/plain", 2)]


def test_tls_listener_works_with_the_ca_and_fails_without(tmp, mosquitto_secure):
    b = mosquitto_secure
    assert b.tls_url("/t") == f"mqtts://127.0.0.1:{b.tls_port}/t"
    with Subscriber(b.tls_port, "t/#", ca_file=b.ca_file, directory=tmp) as sub:
        pub(b.tls_port, "t/tls", "-m", "secret", "--cafile", str(b.ca_file))
        assert sub.wait_count(1) == 1 and sub.messages()[0][:2] == ("t/tls", 6)
    # Without the CA: mosquitto_pub talking plain MQTT to the TLS port gets nowhere, and
    # a TLS client that trusts nothing else rejects the certificate.
    assert pub(b.tls_port, "t/tls", "-m", "x", check=False).returncode != 0
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            bare.wrap_socket(raw, server_hostname="127.0.0.1")
    # Python's own TLS with the CA: the handshake verifies 127.0.0.1, and CONNECT is answered.
    trusting = ssl.create_default_context(cafile=str(b.ca_file))
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=5) as raw:
        with trusting.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(connect_packet("lt-tls-raw"))
            assert read_connack(s) == 0
            s.sendall(DISCONNECT)
    # A plain-text CONNECT on the TLS port gets no CONNACK.
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=5) as s:
        s.sendall(connect_packet("lt-not-tls"))
        with pytest.raises((ConnectionError, socket.timeout)):
            read_connack(s)


def test_sys_counters(tmp, mosquitto):
    assert str(mosquitto.sys("$SYS/broker/version")).startswith("mosquitto version 2.")
    assert mosquitto.sys("publish/messages/received") == 0
    with Subscriber(mosquitto.port, "c/#", directory=tmp) as sub:
        pub(mosquitto.port, "c/x", "-l", input=b"m\n" * 25)
        assert sub.wait_count(25) == 25
        t0 = time.monotonic()
        assert mosquitto.wait_sys("publish/messages/received", lambda v: v == 25, 5) == 25
        lag = time.monotonic() - t0
        assert mosquitto.wait_sys("clients/connected", lambda v: v == 1, 5) == 1
        assert mosquitto.sys("$SYS/broker/messages/received") >= 25
        assert mosquitto.sys("$SYS/broker/clients/total") >= 1
    assert mosquitto.wait_sys("clients/connected", lambda v: v == 0, 5) == 0
    assert mosquitto.sys("publish/messages/dropped") == 0
    assert lag < 2.5  # sys_interval 1
    with pytest.raises(MosquittoError, match="no value"):
        mosquitto.sys("$SYS/broker/no/such/topic", timeout=1)


@pytest.mark.parametrize("limits", ["harness", "mosquitto defaults"])
def test_stalled_subscriber_loses_nothing(tmp, limits):
    """A subscriber that stops reading while 20 MB of QoS 0 messages arrive: with mosquitto's
    default queue limits most are dropped; with the harness's none are."""
    n, size = 20_000, 1000
    extra = "max_queued_messages 1000\nmax_inflight_messages 20\n" if limits != "harness" else ""
    with Mosquitto(tmp, extra=extra) as b, Subscriber(b.port, "q/#", directory=tmp) as sub:
        sub.pause()
        pub(b.port, "q/x", "-l", input=(b"p" * (size - 1) + b"\n") * n)
        b.wait_sys("publish/messages/received", lambda v: v == n, 10)
        if limits != "harness":
            assert b.wait_sys("publish/messages/dropped", lambda v: v > 0, 5) > n // 4
            return
        sub.resume()
        assert sub.wait_count(n, timeout=20, settle=0.2) == n
        assert all(m == ("q/x", size - 1, 0, 0) for m in sub.messages())
        assert b.sys("publish/messages/dropped") == 0


def test_kill_and_restart_on_the_same_ports(tmp, mosquitto_secure):
    b = mosquitto_secure
    ports = b.ports()
    with Subscriber(b.port, "r/#", qos=1, directory=tmp) as sub:
        pub(b.port, "r/1", "-m", "a")
        assert sub.wait_count(1) == 1
        b.kill()
        assert not b.running and b.proc.returncode == -9
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", b.port), timeout=2).close()
        b.restart()
        assert b.running and b.ports() == ports
        assert b.sys("publish/messages/received") == 0  # a fresh broker
        # mosquitto_sub reconnects by itself and subscribes again.
        deadline = time.monotonic() + 10
        while sub.subscriptions < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            sub.count()
        assert sub.subscriptions == 2
        pub(b.port, "r/2", "-m", "bb")
        pub(b.auth_port, "r/3", "-m", "ccc", "-u", b.username, "-P", b.password)
        pub(b.tls_port, "r/4", "-m", "dddd", "--cafile", str(b.ca_file))
        assert sub.wait_count(4) == 4
        assert [m[:2] for m in sub.messages()] == [("r/1", 1), ("r/2", 2), ("r/3", 3), ("r/4", 4)]
    assert b.stop() == 0 and not b.running
    assert "mosquitto version 2" in b.log() and "terminating" in b.log()


def test_module_broker_has_all_three_listeners(mosquitto_module):
    b = mosquitto_module
    assert b.running and len(set(b.ports())) == 3
    s, code = mqtt_connect(b.port, "lt-module-plain")
    s.close()
    assert code == 0
    s, code = mqtt_connect(b.auth_port, "lt-module-auth", username=b.username,
                           password=Path(b.password_file_for_client).read_text())
    s.close()
    assert code == 0
    pub(b.tls_port, "m/tls", "-m", "x", "--cafile", str(b.ca_file))


def test_start_failure_reports_the_log(tmp):
    with pytest.raises(MosquittoError, match=r"(?s)did not start.*no_such_option"):
        Mosquitto(tmp, extra="no_such_option 1")


def test_max_connections_on_a_fresh_broker(tmp):
    """Exact while no connection has closed yet (mosquitto 2.0.11 miscounts closes): the
    harness itself makes none before the test's."""
    with Mosquitto(tmp, max_connections=3) as b:
        socks = [mqtt_connect(b.port, f"lt-max-{i}")[0] for i in range(3)]
        assert "max_connections exceeded" not in b.log()
        with pytest.raises((ConnectionError, socket.timeout)):
            mqtt_connect(b.port, "lt-max-4")[0].close()
        assert "denied: max_connections exceeded" in b.log()
        for s in socks:
            s.close()


def test_2000_concurrent_raw_connections(tmp):
    """2,000 clients at once, each with a hand-built CONNECT, all answered: the broker's
    descriptor limit is raised from the hard limit even when ours starts at 1024."""
    n = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n + 100:
        pytest.skip(f"hard RLIMIT_NOFILE {hard} < {n + 100}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        broker = Mosquitto(tmp)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    try:
        assert broker.nofile == hard
        t0 = time.monotonic()
        packets = {}
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", broker.port), timeout=10)
            socks.append(s)
            # Byte by byte as the brief for the tool has it: 0x10, remaining length, "MQTT",
            # level 4, flags 0x02 (clean session), keepalive 60, client id.
            cid = f"lt-conn-{i:05d}".encode()
            body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
            packets[i] = bytes([0x10, len(body)]) + body
            assert packets[i] == connect_packet(cid.decode())
            s.sendall(packets[i])
        codes = [read_connack(s) for s in socks]
        elapsed = time.monotonic() - t0
        assert codes == [0] * n
        assert broker.wait_sys("clients/connected", lambda v: v >= n, 10) in (n, n + 1)
        for s in socks:
            s.sendall(DISCONNECT)
            s.close()
        socks = []
        assert broker.wait_sys("clients/connected", lambda v: v == 0, 10) == 0
        assert elapsed < 20, elapsed
    finally:
        for s in socks:
            s.close()
        broker.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
