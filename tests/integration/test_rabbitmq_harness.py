"""The RabbitMQ harness itself (tests/integration/rabbitmq.py), checked with amqp-tools, Python's
ssl module and the harness's own minimal AMQP client: what the AMQP sink's tests will count
against must count right first. One node serves the whole module (it takes seconds to start);
only the kill/restart test has one of its own."""
import os
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pytest

from rabbitmq import (PROTOCOL_HEADER, AmqpClosed, Client, RabbitMqError, CONNECTION_BLOCKED,
                      CONNECTION_START, CONNECTION_UNBLOCKED, _alive, descendants, _stat)


def amqp(tool, url, *args, check=True):
    """An amqp-tools program against url; returns the finished process."""
    proc = subprocess.run([f"amqp-{tool}", "--url", url, *args], capture_output=True, text=True,
                          timeout=30)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def read_frame(sock):
    """One whole AMQP frame from a blocking socket: (type, channel, payload)."""
    data = b""
    while len(data) < 7:
        chunk = sock.recv(7 - len(data))
        assert chunk, f"closed after {data!r}"
        data += chunk
    kind, channel, size = struct.unpack(">BHI", data)
    rest = b""
    while len(rest) < size + 1:
        chunk = sock.recv(size + 1 - len(rest))
        assert chunk, "closed inside a frame"
        rest += chunk
    assert rest[-1:] == b"\xce"
    return kind, channel, rest[:-1]


def assert_connection_start(sock):
    kind, channel, payload = read_frame(sock)
    assert (kind, channel) == (1, 0)
    assert struct.unpack(">HHBB", payload[:6]) == (*CONNECTION_START, 0, 9)
    assert b"PLAIN" in payload and b"RabbitMQ" in payload


def node_processes(broker):
    """Live (not zombie) processes whose command line names the node or its epmd port."""
    marks = (broker.node.encode(), f"-port\0{broker.epmd_port}\0".encode())
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if any(m in cmdline for m in marks):
                found.append(int(entry))
    return found


def test_private_node_answers_the_protocol_header(rabbitmq_module):
    b = rabbitmq_module
    assert b.running and b.node.startswith(f"lt-{os.getpid()}-") and b.node.endswith("@localhost")
    ports = {b.port, b.tls_port, b.dist_port, b.epmd_port}
    assert len(ports) == 4 and not ports & {5672, 5671, 25672, 4369}
    assert b.url() == f"amqp://guest:guest@127.0.0.1:{b.port}/%2F"
    assert b.url("u", "p@ss", "v/h") == f"amqp://u:p%40ss@127.0.0.1:{b.port}/v%2Fh"
    assert b.tls_url().startswith(f"amqps://guest:guest@127.0.0.1:{b.tls_port}/")
    # proc is beam.smp itself, our epmd its sibling, everything in the harness's directory.
    assert Path(f"/proc/{b.proc.pid}/exe").resolve().name == "beam.smp"
    assert b.epmd_proc.pid in b.pids() and b.proc.pid in b.pids()
    assert (b.home / ".erlang.cookie").stat().st_mode & 0o777 == 0o400
    assert b.mnesia_dir.is_dir() and "Server startup complete" in b.log_file.read_text()
    assert b.nofile and b.nofile >= 1024
    with socket.create_connection(("127.0.0.1", b.port), timeout=5) as s:
        s.sendall(PROTOCOL_HEADER)
        assert_connection_start(s)
    # A wrong protocol header gets the right one back, then the socket closes.
    with socket.create_connection(("127.0.0.1", b.port), timeout=5) as s:
        s.sendall(b"AMQP\x00\x00\x08\x00")
        assert s.recv(8) == PROTOCOL_HEADER
    # The distribution port and epmd listen on loopback only (epmd adds ::1 by itself).
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    for port in (b.dist_port, b.epmd_port):
        addresses = {line.split()[3] for line in listening.splitlines()
                     if line.split()[3].endswith(f":{port}")}
        assert f"127.0.0.1:{port}" in addresses, (port, addresses)
        assert addresses <= {f"127.0.0.1:{port}", f"[::1]:{port}"}, (port, addresses)


def test_publish_and_count(rabbitmq_module):
    b = rabbitmq_module
    b.declare_queue("lt-count")
    b.declare_queue("lt-count")  # idempotent
    for i in range(5):
        amqp("publish", b.url(), "-r", "lt-count", "-b", f"m{i}")
    with Client(b.port, confirm=True) as c:
        for _ in range(200):
            tag = c.publish("lt-count", b"x" * 100)
        c.wait_confirm(tag)
    assert b.queues()["lt-count"] == 205  # confirmed: counted at once
    got = amqp("get", b.url(), "-q", "lt-count")
    assert got.stdout == "m0"
    assert b.wait_queue("lt-count", lambda n: n == 204) == 204
    b.purge_queue("lt-count")
    assert b.queues()["lt-count"] == 0
    b.delete_queue("lt-count")
    assert "lt-count" not in b.queues()
    assert "Status of node" not in b.ctl("status")  # -q: no banner
    assert b.node in b.ctl("status")
    with pytest.raises(RabbitMqError, match="no-such-command"):
        b.ctl("no-such-command")


def test_users_vhosts_and_permissions(rabbitmq_module):
    b = rabbitmq_module
    assert Path(b.password_file).read_text() == b.password  # no newline
    with Client(b.port, b.username, b.password):
        pass
    with pytest.raises(AmqpClosed) as refused:
        Client(b.port, b.username, b.password + "x")
    assert refused.value.code == 403 and "ACCESS_REFUSED" in refused.value.text
    wrong = amqp("publish", b.url(b.username, "nope"), "-r", "q", "-b", "x", check=False)
    assert wrong.returncode != 0 and "ACCESS_REFUSED" in wrong.stderr
    # A vhost of its own; a user without permissions there may log in but not open it.
    b.add_vhost("lt-vhost")
    b.add_user("lt-other", "secret")
    with pytest.raises(AmqpClosed) as denied:
        Client(b.port, "lt-other", "secret", vhost="lt-vhost")
    assert denied.value.code == 530 and "NOT_ALLOWED" in denied.value.text
    b.set_permissions("lt-vhost", "lt-other")
    b.declare_queue("lt-vq", vhost="lt-vhost")  # as guest, which add_vhost let in
    with Client(b.port, "lt-other", "secret", vhost="lt-vhost", confirm=True) as c:
        c.wait_confirm(c.publish("lt-vq", b"hello"))
    assert b.queues("lt-vhost") == {"lt-vq": 1}
    assert "lt-vq" not in b.queues()
    users = {row["user"] for row in b.connections("user")}
    assert "lt-other" not in users  # closed connections are gone at once


def test_block_makes_a_publisher_get_connection_blocked(rabbitmq_module):
    b = rabbitmq_module
    b.declare_queue("lt-block", durable=False)
    with Client(b.port) as idle, Client(b.port) as publisher:
        b.block()
        try:
            assert b.alarms() == ["memory"]
            with pytest.raises(TimeoutError):
                idle.read_method(timeout=0.5)  # no publish: no Connection.Blocked
            publisher.publish("lt-block", b"during the alarm")
            assert publisher.read_method(timeout=5) == (CONNECTION_BLOCKED, b"\rlow on memory")
            states = sorted(row["state"] for row in b.connections("state"))
            assert states == ["blocked", "blocking"]
            assert b.queues()["lt-block"] == 0  # the node stopped reading it
        finally:
            b.unblock()
        assert publisher.read_method(timeout=5) == (CONNECTION_UNBLOCKED, b"")
        assert b.alarms() == []
        assert b.wait_queue("lt-block", lambda n: n == 1) == 1
    b.delete_queue("lt-block")


def test_tls_listener(rabbitmq_module):
    b = rabbitmq_module
    context = ssl.create_default_context(cafile=str(b.ca_file))
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.version() in ("TLSv1.2", "TLSv1.3")
            s.sendall(PROTOCOL_HEADER)
            assert_connection_start(s)
    b.declare_queue("lt-tls", durable=False)
    with Client(b.tls_port, tls=True, ca_file=b.ca_file, confirm=True) as c:
        c.wait_confirm(c.publish("lt-tls", b"over tls"))
    assert b.queues()["lt-tls"] == 1
    # Without our CA the certificate does not verify.
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
    b.delete_queue("lt-tls")


def test_kill_restart_and_stop_leave_nothing(rabbitmq):
    b = rabbitmq
    ports, node = b.ports(), b.node
    b.declare_queue("lt-durable")
    b.declare_queue("lt-transient", durable=False)
    with Client(b.port, confirm=True) as c:
        for _ in range(5):
            c.publish("lt-durable", b"p", persistent=True)
        c.publish("lt-durable", b"not persistent")
        tag = c.publish("lt-transient", b"t", persistent=True)
        c.wait_confirm(tag)
    assert b.queues() == {"lt-durable": 6, "lt-transient": 1}
    victim = Client(b.port)
    before = [(p, _stat(p)[1]) for p in b.pids()]
    assert len(before) >= 4  # beam.smp, erl_child_setup, inet_gethost..., epmd
    b.kill()
    assert not b.running and b.pids() == []
    assert not [p for p, t in before if _alive(p, t)]
    assert node_processes(b) == []
    with pytest.raises((AmqpClosed, OSError)):
        victim.read_method(timeout=5)
    victim.sock.close()
    t0 = time.monotonic()
    b.restart()
    restart_s = time.monotonic() - t0
    assert b.ports() == ports and b.node == node
    # Durable queues and their persistent messages survive; the rest does not.
    assert b.queues() == {"lt-durable": 5}
    assert restart_s < 30
    pids = [(p, _stat(p)[1]) for p in b.pids()]
    assert descendants(b.proc.pid)
    t0 = time.monotonic()
    assert b.stop() == 0
    assert time.monotonic() - t0 < 10
    assert b.pids() == [] and not [p for p, t in pids if _alive(p, t)]
    assert node_processes(b) == []
    with pytest.raises(RabbitMqError, match="not running"):
        b.queues()
