"""The nats-server harness itself (tests/integration/nats.py), checked with its own small client,
raw sockets and Python's ssl module: what the NATS sink's tests will count against must count
right first."""
import json
import os
import resource
import select
import socket
import ssl
import time
from pathlib import Path

import pytest

from nats import Client, NatsError, NatsServer, NoResponders, Responder, parse_headers


def raw_connect(port, connect=None, timeout=5):
    """A raw TCP connection: reads INFO, sends CONNECT (verbose off) and PING. Returns
    (socket, INFO dict)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    info = b""
    while not info.endswith(b"\r\n"):
        chunk = s.recv(4096)
        assert chunk, info
        info += chunk
    assert info.startswith(b"INFO ")
    body = {"verbose": False, "pedantic": False, **(connect or {})}
    s.sendall(b"CONNECT " + json.dumps(body).encode() + b"\r\nPING\r\n")
    return s, json.loads(info[5:])


def read_line(s):
    """One CRLF line, read byte by byte (nothing after it is consumed)."""
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = s.recv(1)
        assert chunk, line
        line += chunk
    return line[:-2]


def read_until_closed(s, timeout=5):
    """Everything the server sends until it closes the connection."""
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def test_plain_start_and_exact_varz_counts(nats):
    assert nats.url() == f"nats://127.0.0.1:{nats.port}"
    assert nats.running and nats.port != 4222 and len(set(nats.ports())) == 2
    assert nats.nofile == resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    conf = nats.conf.read_text()
    assert "debug: false" in conf and "trace: false" in conf and "authorization" not in conf
    v = nats.varz()
    assert v["version"] == "2.9.10" or v["version"].startswith("2.")
    assert (v["port"], v["http_port"]) == (nats.port, nats.http_port)
    assert v["in_msgs"] == v["out_msgs"] == v["connections"] == 0
    with Client(nats.port, keep=True) as sub, Client(nats.port) as pub:
        sub.sub("lt.>")
        sub.flush()
        for _ in range(3):
            pub.publish("lt.a", b"hello")
        pub.publish("other", b"nobody listens")
        pub.flush()
        # Right after the PONG: in_msgs / in_bytes (payload bytes only) are exact already.
        v = nats.varz()
        assert (v["in_msgs"], v["in_bytes"]) == (4, 15 + 14)
        assert (v["out_msgs"], v["out_bytes"]) == (3, 15)
        assert sub.wait_count(3) == 3
        assert [m.payload for m in sub.messages()] == [b"hello"] * 3
        # Not a lucky read: a few hundred rounds of k publishes + PING, then /varz at once.
        total = 4
        for i in range(300):
            k = 1 + i % 7
            for _ in range(k):
                pub.publish("lt.b", b"x")
            pub.flush()
            total += k
            v = nats.varz()
            assert v["in_msgs"] == total and v["out_msgs"] == total - 1, (i, v["in_msgs"])
        assert sub.wait_count(total - 1) == total - 1
        assert sub.counts() == {"lt.a": 3, "lt.b": total - 4}
        assert nats.varz()["slow_consumers"] == 0


def test_connz_counts_connections_and_subscriptions(nats):
    base_subs = nats.subsz()["num_subscriptions"]  # the server's own ($SYS account)
    assert nats.varz()["subscriptions"] == base_subs > 0
    a = Client(nats.port, name="lt-a")
    b = Client(nats.port, name="lt-b")
    c = Client(nats.port, name="lt-c")
    try:
        a.sub("x.1")
        a.sub("x.2", queue="workers")
        a.flush()
        for _ in range(5):
            b.publish("x.1", b"abcd")
        b.flush()
        assert a.wait_count(5) == 5
        z = nats.connz(subs=1)
        assert z["num_connections"] == z["total"] == 3
        by_name = {conn["name"]: conn for conn in z["connections"]}
        assert set(by_name) == {"lt-a", "lt-b", "lt-c"}
        assert by_name["lt-a"]["subscriptions"] == 2
        assert sorted(by_name["lt-a"]["subscriptions_list"]) == ["x.1", "x.2"]
        assert (by_name["lt-a"]["in_msgs"], by_name["lt-a"]["out_msgs"]) == (0, 5)
        assert (by_name["lt-b"]["in_msgs"], by_name["lt-b"]["in_bytes"]) == (5, 20)
        assert by_name["lt-c"]["subscriptions"] == 0
        assert "subscriptions_list" not in by_name["lt-c"]
        detail = nats.connz(subs="detail", cid=by_name["lt-a"]["cid"])["connections"][0]
        assert {(d["subject"], d.get("qgroup")) for d in detail["subscriptions_list_detail"]} == {
            ("x.1", None), ("x.2", "workers")}
        assert nats.subsz()["num_subscriptions"] == base_subs + 2
        v = nats.varz()
        assert (v["connections"], v["total_connections"]) == (3, 3)
        assert nats.connz(limit=2)["num_connections"] == 2  # a page, not the total
    finally:
        for client in (a, b, c):
            client.close()
    assert nats.wait_varz("connections", lambda n: n == 0, 5) == 0
    closed = nats.connz(state="closed")
    assert closed["total"] == 3
    assert {conn["reason"] for conn in closed["connections"]} == {"Client Closed"}
    assert nats.varz()["total_connections"] == 3


def test_counts_are_final_once_the_publisher_is_gone(nats):
    """A publisher that writes and closes at once: once /varz shows it gone, every message it
    sent is in in_msgs (its read loop counts each batch before it sees the end). "Gone" needs
    it to have been there: total_connections is bumped before INFO is sent, connections only
    a moment later, so a PONG first proves the server has registered it."""
    total = 0
    for _ in range(20):
        s, _ = raw_connect(nats.port)
        assert read_line(s) == b"PONG"
        s.sendall(b"PUB q 3\r\nabc\r\n" * 2000)
        s.shutdown(socket.SHUT_WR)
        assert read_until_closed(s) == b""  # nothing unread: a FIN, not an RST
        s.close()
        total += 2000
        nats.wait_varz("connections", lambda n: n == 0, 5, interval=0.001)
        assert nats.varz()["in_msgs"] == total
    assert {c["reason"] for c in nats.connz(state="closed")["connections"]} == {"Client Closed"}


def test_close_with_unread_data_loses_messages(nats):
    """...unless the publisher closes with data it has not read (here a PONG) in its socket:
    Linux then sends RST, and nats-server loses what it had not read yet ("Read Error")."""
    lost = 0
    for _ in range(5):
        s, _ = raw_connect(nats.port)
        select.select([s], [], [], 5)
        time.sleep(0.01)  # the PONG is there, unread
        before = nats.varz()["in_msgs"]
        s.sendall(b"PUB q 3\r\nabc\r\n" * 20000)
        s.close()
        nats.wait_varz("connections", lambda n: n == 0, 5, interval=0.001)  # was registered
        lost += 20000 - (nats.varz()["in_msgs"] - before)
        if lost:
            break
    assert lost > 0
    assert "Read Error" in {c["reason"] for c in nats.connz(state="closed")["connections"]}


def test_headers_hmsg_and_no_responders(nats):
    with Client(nats.port, keep=True) as sub, Client(nats.port) as pub:
        assert sub.info["headers"] is True
        sub.sub("h.*")
        sub.flush()
        pub.publish("h.1", b"body\r\nwith CRLF", headers={"Lt-Seq": "7", "X": "y z"})
        pub.publish("h.2", b"plain", reply="r.1")
        pub.publish("h.3", b"", reply="r.2", headers={"Only": "headers"})
        pub.publish("h.4", b"\x00" * 70000)  # spans several reads
        pub.flush()
        assert sub.wait_count(4) == 4
        m1, m2, m3, m4 = sub.messages()
        assert (m1.subject, m1.reply, m1.payload) == ("h.1", None, b"body\r\nwith CRLF")
        assert parse_headers(m1.headers) == ("NATS/1.0", {"Lt-Seq": ["7"], "X": ["y z"]})
        assert (m2.subject, m2.reply, m2.headers, m2.payload) == ("h.2", "r.1", None, b"plain")
        assert (m3.reply, m3.payload) == ("r.2", b"")
        assert parse_headers(m3.headers)[1] == {"Only": ["headers"]}
        assert len(m4.payload) == 70000 and m4.headers is None
        # nats-server answers a request nobody subscribes to with a 503 HMSG (no_responders).
        with pytest.raises(NoResponders):
            pub.request("nobody.home", b"?", timeout=2)


def test_token_auth(tmp):
    with NatsServer(tmp, auth="token") as server:
        assert Path(server.token_file).read_text() == server.token  # no newline
        assert server.token in server.conf.read_text()
        cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
        assert server.token.encode() not in cmdline
        assert server.varz()["auth_required"] is True
        with Client(server.port, token=server.token) as c:
            assert c.info["auth_required"] is True
            c.publish("t", b"1")
            c.flush()
        for token in (server.token + "x", None):
            with pytest.raises(NatsError, match="Authorization Violation"):
                Client(server.port, token=token)
        s, _ = raw_connect(server.port, {"auth_token": "wrong"})
        assert read_until_closed(s) == b"-ERR 'Authorization Violation'\r\n"
        s.close()
        assert server.log().count("authentication error") == 3
        assert server.varz()["in_msgs"] == 1


def test_user_password_auth(tmp):
    with NatsServer(tmp, auth="user") as server:
        assert Path(server.password_file).read_text() == server.password
        assert server.password.encode() not in Path(
            f"/proc/{server.proc.pid}/cmdline").read_bytes()
        with Client(server.port, user=server.username, password=server.password) as c:
            c.flush()
            assert server.connz(auth=1)["connections"][0]["authorized_user"] == server.username
        for user, password in ((server.username, "nope"), ("other", server.password),
                               (None, None)):
            with pytest.raises(NatsError, match="Authorization Violation"):
                Client(server.port, user=user, password=password)


def test_tls_with_the_ca(tmp):
    with NatsServer(tmp, tls=True, auth="token") as server:
        assert server.tls_url() == f"tls://127.0.0.1:{server.port}"
        assert server.ca_file.exists()
        with Client(server.port, tls=True, ca_file=server.ca_file, token=server.token,
                    keep=True) as c:
            assert c.info["tls_required"] is True
            c.sub("s")
            c.publish("s", b"secret" * 10000)
            c.flush()
            assert c.wait_count(1) == 1 and c.messages()[0].payload == b"secret" * 10000
            conn = server.connz()["connections"][0]
            assert conn["tls_version"].startswith("1.")
        # INFO comes first, in plain text, even on the TLS port.
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        info = s.recv(4096)
        assert info.startswith(b"INFO ") and json.loads(info[5:])["tls_required"] is True
        # Then plain CONNECT: closed without an answer (the log: "TLS handshake error").
        s.sendall(b'CONNECT {"auth_token":"%s"}\r\nPING\r\n' % server.token.encode())
        assert read_until_closed(s) == b""
        s.close()
        # A client that starts TLS at once reads the plain INFO as a TLS record.
        context = ssl.create_default_context(cafile=str(server.ca_file))
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            with pytest.raises(ssl.SSLError, match="WRONG_VERSION_NUMBER|wrong version"):
                context.wrap_socket(raw, server_hostname="127.0.0.1")
        # Without our CA the certificate is not trusted.
        with pytest.raises(ssl.SSLCertVerificationError):
            Client(server.port, tls=True, ca_file=None, token=server.token)
        assert "TLS handshake error" in server.log()


def test_max_payload_is_enforced(tmp):
    with NatsServer(tmp, max_payload=1000) as server:
        assert "max_payload: 1000" in server.conf.read_text()
        with Client(server.port) as c:
            assert c.info["max_payload"] == 1000
            c.publish("p", b"x" * 1000)
            c.flush()
            c.publish("p", b"x" * 1001)
            with pytest.raises(ConnectionError):
                c.flush()
            assert c.errors == ["Maximum Payload Violation"] and c.closed.is_set()
        assert server.varz()["in_msgs"] == 1
        assert "maximum payload exceeded: 1001 vs 1000" in server.log()


def test_max_connections(tmp):
    with NatsServer(tmp, max_connections=3) as server:
        clients = [Client(server.port) for _ in range(3)]
        with pytest.raises(NatsError, match="maximum connections exceeded"):
            Client(server.port)
        clients.pop().close()
        server.wait_varz("connections", lambda n: n == 2, 5)
        clients.append(Client(server.port))  # a close frees exactly one slot
        with pytest.raises(NatsError, match="maximum connections exceeded"):
            Client(server.port)
        for c in clients:
            c.close()


def test_kill_and_restart_on_the_same_ports(tmp):
    with NatsServer(tmp, auth="user") as server:
        ports = server.ports()
        creds = {"user": server.username, "password": server.password}
        c = Client(server.port, **creds)
        c.publish("k", b"1")
        c.flush()
        assert server.varz()["in_msgs"] == 1
        server.kill()
        assert not server.running and server.proc.returncode == -9
        assert c.wait_closed(5) and c.close_reason
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        # Right away, with the killed server's connections in TIME_WAIT: SO_REUSEADDR.
        t0 = time.monotonic()
        server.restart()
        took = time.monotonic() - t0
        assert server.running and server.ports() == ports
        assert server.varz()["in_msgs"] == 0 and server.varz()["total_connections"] == 0
        with Client(server.port, **creds) as again:
            again.publish("k", b"2")
            again.flush()
        assert server.varz()["in_msgs"] == 1
        assert took < 2, took
        c.close()
        # Graceful: SIGINT, exit status 0; restart() does that itself when it runs.
        assert server.stop() == 0 and not server.running
        server.restart()
        assert server.running and server.ports() == ports
    assert server.proc.returncode == 0
    assert server.log().count("Server is ready") == 3 and "Server Exiting.." in server.log()


def test_responder_answers_requests(nats):
    with Responder(nats.port, "svc.echo", queue="q") as r1, \
            Responder(nats.port, "svc.echo", queue="q") as r2, \
            Client(nats.port) as client:
        for i in range(50):
            reply = client.request("svc.echo", f"req-{i}".encode(), timeout=5)
            assert reply.payload == f"req-{i}".encode()
        client.publish("svc.echo", b"no reply subject")
        client.flush()
        assert r1.wait_requests(0) + r2.wait_requests(0) == 50  # once each, in the group
        deadline = time.monotonic() + 5
        while r1.no_reply + r2.no_reply < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert r1.no_reply + r2.no_reply == 1
        assert r1.answered + r2.answered == 50
        # requests + replies + the one without a reply subject
        assert nats.wait_varz("in_msgs", lambda n: n == 101, 5) == 101


def test_slow_consumer_is_counted_at_once(tmp):
    """A subscriber that stops reading: with write_deadline 0.5s nats-server gives up on it
    about half a second after its socket buffers filled, counts it in slow_consumers at once,
    and closes it; out_msgs counted deliveries it never got."""
    with NatsServer(tmp, extra='write_deadline: "500ms"') as server:
        sub = Client(server.port, name="lt-slow")
        sub.sub("sc")
        sub.flush()
        sub.pause()
        with Client(server.port) as pub:
            pub.publish_many("sc", b"p" * 1000, 30_000)
            pub.flush(timeout=20)
            t0 = time.monotonic()
            assert server.wait_varz("slow_consumers", lambda n: n == 1, 5) == 1
            took = time.monotonic() - t0
            v = server.varz()
            assert v["in_msgs"] == 30_000 and took < 2
        closed = server.connz(state="closed")["connections"]
        assert [c["reason"] for c in closed if c["name"] == "lt-slow"] == [
            "Slow Consumer (Write Deadline)"]
        sub.resume()
        assert sub.wait_closed(5)
        assert sub.count() < v["out_msgs"] <= 30_000
        sub.close()


def test_1500_raw_connections_and_the_connz_page(nats):
    """More clients than /connz's default page (1024): num_connections is the page, total the
    count."""
    n = 1500
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        pytest.skip(f"RLIMIT_NOFILE {soft} < {n + 100}")
    socks = []
    try:
        for _ in range(n):
            socks.append(raw_connect(nats.port)[0])
        for s in socks:
            data = b""
            while not data.endswith(b"PONG\r\n"):
                data += s.recv(64)
        z = nats.connz()
        assert (z["num_connections"], z["total"], z["limit"]) == (1024, n, 1024)
        assert nats.connz(limit=n)["num_connections"] == n
        assert nats.varz()["connections"] == n
    finally:
        for s in socks:
            s.close()
    assert nats.wait_varz("connections", lambda c: c == 0, 10) == 0


def test_start_failure_reports_the_log(tmp):
    with pytest.raises(NatsError, match=r'(?s)did not start.*unknown field "no_such_option"'):
        NatsServer(tmp, extra="no_such_option: 1")


def test_module_server(nats_module):
    assert nats_module.running
    with Client(nats_module.port) as c:
        c.flush()
    assert nats_module.varz()["total_connections"] >= 1
    assert os.path.isdir(nats_module.dir)
