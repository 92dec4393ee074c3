"""Shared helpers: the real binary, the built-in server on a free port, result-file readers."""
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("LT_BINARY", str(ROOT / "build" / "load-tester"))
# Under sanitizers everything is several times slower: tests scale their load down.
SANITIZED = bool(os.environ.get("LT_SANITIZED"))
SANITIZER = os.environ.get("LT_SANITIZER", "")  # "address" or "thread" under scripts/sanitize.sh


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`load-tester serve` in the background; stop() returns its counts."""

    def __init__(self, tmp, sink="tcp", echo=False, port=0, extra=()):
        self.json_path = Path(tmp) / f"server-{time.monotonic_ns()}.json"
        args = [BINARY, "serve", "--sink", sink, "--port", str(port), "--json", str(self.json_path),
                *extra]
        if echo:
            args.append("--echo")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert "listening on" in line, f"serve did not start: {line!r} {self.proc.stderr.read()}"
        self.port = int(line.split(":")[1].split()[0])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return json.loads(self.json_path.read_text())

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


class Run:
    def __init__(self, proc, stdout, stderr, json_path):
        self.returncode = proc.returncode
        self.stdout = stdout
        self.stderr = stderr
        self.result = json.loads(json_path.read_text()) if json_path.exists() else None

    @property
    def counters(self):
        return self.result["counters"]


@contextmanager
def stopped(pid):
    """The process frozen (SIGSTOP) for the with-block: a server that stalls, its sockets open
    and its kernel still acknowledging what fits in the buffers."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def start_tool(tmp, args, json_name="run.json"):
    json_path = Path(tmp) / json_name
    proc = subprocess.Popen([BINARY, *args, "--json", str(json_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, json_path


def run_tool(tmp, args, timeout=120):
    proc, json_path = start_tool(tmp, args)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"load-tester hung past {timeout}s: {err}")
    return Run(proc, out, err, json_path)


def assert_usage_error(r, args, flag):
    """Bad input: exit 2 and one line on stderr that names the flag."""
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert flag in lines[0], lines[0]


def decode_hdr_counts(text):
    """Independent reader of the HdrHistogram V2 compressed encoding, written from the format's
    description: returns [(value, count)] with each bucket's lowest equivalent value."""
    raw = base64.b64decode(text)
    cookie, length = struct.unpack(">ii", raw[:8])
    # Bits 4-7 carry the word size (0x10 as HdrHistogram Java writes it); readers mask them.
    assert cookie & ~0xF0 == 0x1C849304, hex(cookie)
    inner = zlib.decompress(raw[8:8 + length])
    cookie, payload_len, _, sig, lowest, highest, _ = struct.unpack(">iiiiqqd", inner[:40])
    assert cookie & ~0xF0 == 0x1C849303, hex(cookie)
    # Bucket layout: sub-buckets cover 2 * 10^sig values at full resolution, then each bucket
    # doubles the unit.
    sub_count = 1 << (2 * 10 ** sig - 1).bit_length()
    sub_half_bits = sub_count.bit_length() - 2
    unit_bits = lowest.bit_length() - 1

    def value_at(index):
        bucket = (index >> sub_half_bits) - 1
        sub = (index & ((1 << sub_half_bits) - 1)) + (1 << sub_half_bits)
        if bucket < 0:
            sub -= 1 << sub_half_bits
            bucket = 0
        return sub << (bucket + unit_bits)

    data, pos, index, out = inner[40:40 + payload_len], 0, 0, []
    while pos < len(data):
        shift = value = 0
        while True:
            b = data[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        value = (value >> 1) ^ -(value & 1)  # zigzag
        if value < 0:
            index += -value
        else:
            if value:
                out.append((value_at(index), value))
            index += 1
    return out


def decode_hdr(text):
    """(total count, number of bucket indexes) of an encoded histogram."""
    counts = decode_hdr_counts(text)
    return sum(c for _, c in counts), len(counts)


def share_above(text, threshold_ns):
    """Fraction of recorded values above threshold_ns, from the encoded histogram itself."""
    counts = decode_hdr_counts(text)
    total = sum(c for _, c in counts)
    return sum(c for v, c in counts if v > threshold_ns) / total


def cpu_steal_ticks():
    """CPU time the hypervisor gave to other guests (the steal field of /proc/stat)."""
    return int(Path("/proc/stat").read_text().split()[8])


class StealMeter:
    """Share of this machine's CPU time stolen by the hypervisor while the block ran. On a shared
    VM it reaches 20% for minutes at a time, and no timing bound holds then."""

    def __enter__(self):
        self.t0, self.s0 = time.monotonic(), cpu_steal_ticks()
        return self

    def __exit__(self, *exc):
        ticks = os.sysconf("SC_CLK_TCK") * (time.monotonic() - self.t0) * os.cpu_count()
        self.share = (cpu_steal_ticks() - self.s0) / ticks


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory(prefix="lt-test-") as d:
        yield d


@pytest.fixture
def nginx(tmp):
    """A private nginx on a free loopback port (tests/integration/nginx.py), stopped after."""
    from nginx import Nginx
    with Nginx(tmp) as server:
        yield server


@pytest.fixture
def nginx_tls(tmp):
    """The same with an ssl listener too; its CA certificate is nginx_tls.ca_file."""
    from nginx import Nginx
    with Nginx(tmp, tls=True) as server:
        yield server


@pytest.fixture
def mosquitto(tmp):
    """A private mosquitto broker on a free loopback port (tests/integration/mosquitto.py),
    anonymous clients allowed, stopped after."""
    from mosquitto import Mosquitto
    with Mosquitto(tmp) as broker:
        yield broker


@pytest.fixture
def mosquitto_secure(tmp):
    """The same with a password listener (mosquitto_secure.auth_port, .username, .password,
    .password_file_for_client) and a TLS listener (.tls_port, its CA in .ca_file) too."""
    from mosquitto import Mosquitto
    with Mosquitto(tmp, tls=True, auth=True) as broker:
        yield broker


@pytest.fixture(scope="module")
def mosquitto_module():
    """One broker (all three listeners) for a whole test module, in a directory of its own.
    Its $SYS counters and retained messages carry over from test to test."""
    from mosquitto import Mosquitto
    with tempfile.TemporaryDirectory(prefix="lt-mosquitto-") as d:
        with Mosquitto(d, tls=True, auth=True) as broker:
            yield broker


@pytest.fixture
def nats(tmp):
    """A private nats-server on a free loopback port, monitoring on another
    (tests/integration/nats.py): no auth, no TLS, stopped after."""
    from nats import NatsServer
    with NatsServer(tmp) as server:
        yield server


@pytest.fixture(scope="module")
def nats_module():
    """One plain nats-server for a whole test module, in a directory of its own. Its /varz
    counters carry over from test to test: compare differences."""
    from nats import NatsServer
    with tempfile.TemporaryDirectory(prefix="lt-nats-") as d:
        with NatsServer(d) as server:
            yield server


def _need_rabbitmq():
    """Skips the test when there is no rabbitmq-server to run (scripts/install-deps.sh installs
    it); returns the RabbitMq class otherwise."""
    from rabbitmq import RabbitMq, find_epmd, find_rabbitmq_server
    if not find_rabbitmq_server():
        pytest.skip("rabbitmq-server not found in /usr/lib/rabbitmq/bin (install it with "
                    "scripts/install-deps.sh, or set LT_RABBITMQ_SERVER)")
    if not find_epmd():
        pytest.skip("epmd not found (package erlang-base)")
    return RabbitMq


@pytest.fixture(scope="module")
def rabbitmq_module():
    """One private RabbitMQ node (tests/integration/rabbitmq.py: AMQP and TLS listeners, a
    password user besides guest) for a whole test module, in a directory of its own: it takes
    5-8 s to start. Queues, users and vhosts carry over from test to test: use names of your
    own, and delete_queue() or compare differences."""
    RabbitMq = _need_rabbitmq()
    with tempfile.TemporaryDirectory(prefix="lt-rabbitmq-") as d:
        with RabbitMq(d, tls=True, auth="user") as broker:
            yield broker


@pytest.fixture
def rabbitmq(tmp):
    """A node of a test's own (plain AMQP, guest only), for tests that kill, restart or
    reconfigure it; stopped after."""
    RabbitMq = _need_rabbitmq()
    with RabbitMq(tmp) as broker:
        yield broker


@pytest.fixture
def kafka():
    """A 3-broker Kafka-protocol mock cluster (tests/integration/kafka_mock.py) on loopback,
    its own per test, stopped after."""
    from kafka_mock import KafkaMock
    cluster = KafkaMock(3)
    yield cluster
    cluster.stop()
