"""A private mosquitto broker on free loopback ports, for the MQTT sink's tests.

    with Mosquitto(tmp, tls=True, auth=True) as broker:
        broker.url("/t")         # mqtt://127.0.0.1:PORT/t        (anonymous listener)
        broker.auth_url("/t")    # mqtt://127.0.0.1:AUTH_PORT/t   (broker.username, .password)
        broker.tls_url("/t")     # mqtts://127.0.0.1:TLS_PORT/t   (certificate signed by .ca_file)
        with Subscriber(broker.port, "t/#", qos=1) as sub:
            ...
            sub.wait_count(1000)                          # messages the broker delivered to it
        broker.sys("$SYS/broker/publish/messages/received")          # one retained $SYS value
        broker.wait_sys("broker/clients/connected", lambda n: n == 0)

Everything lives in a fresh directory under `tmp`: the config, the log, the broker's stderr,
the password files and (tls=True) a CA and a server certificate made by
server_process.make_certificates. mosquitto runs in the foreground as our child. It never
touches /etc/mosquitto, /var/log/mosquitto, /var/lib/mosquitto or port 1883. The life cycle
(the directory, free ports, start and its retries, stop, kill, restart, log(), nofile) is
server_process.py's ServerProcess, described there. stop() sends SIGTERM (mosquitto closes
every connection and exits); restart() starts the broker again on the same ports at once
(mosquitto sets SO_REUSEADDR, so connections left in TIME_WAIT do not stand in the way).

Listeners (all on 127.0.0.1, each with `max_connections`, all sharing one broker: a message
published on one is delivered to subscribers on every other):
    port        anonymous clients allowed
    auth_port   (auth=True) username/password required: `username` and `password`, stored
                hashed in `password_file` by mosquitto_passwd; `password_file_for_client` holds
                the bare password (no newline) for the tool's --password-file
    tls_port    (tls=True) TLS with server.crt/server.key; anonymous; `ca_file` verifies it

per_listener_settings is on, so each listener has its own allow_anonymous / password_file.

Queue limits. mosquitto 2.0 drops messages for a client whose outgoing queue is full: QoS 1/2
beyond max_inflight_messages (default 20) + max_queued_messages (default 1000), and also QoS 0,
which it drops once the client already has max_queued_messages packets waiting to be written
(the man page only mentions QoS 1/2 there). A subscriber that falls behind a fast publisher for
a moment would then lose messages the test expects. The config sets max_queued_messages,
max_queued_bytes, max_inflight_messages and max_inflight_bytes to 0 (no limit), so a live
subscriber on loopback gets everything: it only costs the broker memory while it lags.
$SYS/broker/publish/messages/dropped counts what was dropped anyway.

$SYS. sys_interval is 1: mosquitto republishes each $SYS value (retained) at most once a second,
and only when it changed, so a value lags the truth by up to a second: use wait_sys() to wait for
one. Each sys() read is a mosquitto_sub client of its own: its CONNECT, SUBSCRIBE and DISCONNECT
are in $SYS/broker/messages/received (which counts every packet), and if a tick falls while it is
connected it is in clients/connected and clients/total for that tick. Count publishes with
$SYS/broker/publish/messages/received, which only PUBLISH packets change. The harness itself
makes no connection to find the broker ready (it waits for the log's "running" line). All
counters restart from 0 when the broker does (persistence is off).

Root. As root, mosquitto switches to the `mosquitto` user after reading its config and opening
its listeners, and that user cannot enter the 0700 temp directory the tests use: the log file
and the password file are opened after the switch, and mosquitto exits with status 13. As in
nginx.py, the config says `user root` when we are root; mosquitto then writes "Warning:
Mosquitto should not be run as root/administrator." to stderr. It only listens on 127.0.0.1.

Descriptors. mosquitto takes one descriptor per client and has no limit of its own
(max_connections -1); its soft RLIMIT_NOFILE is raised to the hard limit before exec, so 10,000
clients fit wherever the hard limit allows (`nofile` says what it got).

max_connections (per listener) is only exact until the first client goes away: mosquitto 2.0.11
(Debian 12) takes a closed connection off the listener's count twice, whether it sent CONNECT
or not, so every close frees one slot too many (sys() readers and Subscribers are clients of
the plain listener too). A test of the limit should open its connections on a fresh broker and
close none before the one that must be refused.

This module does not import pytest or the tests' conftest, so bench scripts can load it by path,
with tests/integration on sys.path while it loads (it imports its sibling server_process.py).
"""
import os
import secrets
import signal
import struct
import subprocess
import tempfile
import time
from pathlib import Path

# free_port: also this module's, as before server_process.py.
from server_process import ServerProcess, find_binary, free_port  # noqa: F401


def find_mosquitto():
    """Path of the mosquitto binary (LT_MOSQUITTO overrides), or None. Debian puts it in
    /usr/sbin, which is often not on a non-root PATH."""
    return find_binary("LT_MOSQUITTO", "mosquitto",
                       ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"))


# ---- hand-built MQTT 3.1.1 packets, for probes and tests that need raw connections ----------

def _remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def connect_packet(client_id, keepalive=60, clean=True, username=None, password=None):
    """An MQTT 3.1.1 CONNECT: protocol name "MQTT", level 4, flags (clean session 0x02,
    username 0x80, password 0x40), keepalive, then the payload fields."""
    flags = (0x02 if clean else 0) | (0x80 if username is not None else 0) | (
        0x40 if password is not None else 0)
    body = _utf8("MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive) + _utf8(client_id)
    if username is not None:
        body += _utf8(username)
    if password is not None:
        body += _utf8(password)
    return bytes([0x10]) + _remaining_length(len(body)) + body


DISCONNECT = b"\xe0\x00"


def read_connack(sock):
    """Reads a 4-byte MQTT 3.1.1 CONNACK from a blocking socket; returns its return code
    (0 = accepted). Raises ConnectionError on anything else."""
    data = b""
    while len(data) < 4:
        chunk = sock.recv(4 - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {data!r}, before a whole CONNACK")
        data += chunk
    if data[0] != 0x20 or data[1] != 2:
        raise ConnectionError(f"not a CONNACK: {data!r}")
    return data[3]


class MosquittoError(RuntimeError):
    pass


def _number(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class Mosquitto(ServerProcess):
    """mosquitto on free 127.0.0.1 ports: `port` (anonymous), `auth_port` (auth=True),
    `tls_port` (tls=True). max_connections: per listener (-1: no limit). extra: config text
    added after the harness's global settings (so it can override them) and before the
    listeners; listener_extra: text added to every listener. Starts at once unless
    start=False; stop() (or leaving a with block) ends it: SIGTERM, on which mosquitto closes
    every connection and exits. The life cycle (start, restart, stop, kill, log, running,
    nofile) is server_process.ServerProcess's."""

    name = "mosquitto"
    env = "LT_MOSQUITTO"
    dir_prefix = "mosquitto"
    conf_name, log_name = "mosquitto.conf", "mosquitto.log"
    error = MosquittoError
    stop_signal = signal.SIGTERM

    def __init__(self, tmp, tls=False, auth=False, max_connections=-1, extra="",
                 listener_extra="", start=True, start_timeout=10.0):
        super().__init__(tmp, find_mosquitto(), tls, start_timeout)
        self.auth = auth
        self.max_connections = max_connections
        self.extra = extra
        self.listener_extra = listener_extra
        self.username = self.password = None
        self.password_file = self.password_file_for_client = None
        if auth:
            self.username = "lt-user"
            self.password = "lt-" + secrets.token_hex(8)
            self.password_file = self.dir / "passwd"
            proc = subprocess.run(["mosquitto_passwd", "-b", "-c", str(self.password_file),
                                   self.username, self.password], capture_output=True, text=True)
            if proc.returncode != 0:
                raise MosquittoError(f"mosquitto_passwd failed: {proc.stdout}{proc.stderr}")
            self.password_file_for_client = self.dir / "client-password"
            self.password_file_for_client.write_text(self.password)
        self.port = self.auth_port = self.tls_port = None
        if start:
            self.start()

    # ---- config, and what the life cycle needs ---------------------------------------------

    def _listener(self, port, anonymous, more=""):
        return (f"listener {port} 127.0.0.1\n"
                f"max_connections {self.max_connections}\n"
                f"allow_anonymous {'true' if anonymous else 'false'}\n"
                f"{more}{self.listener_extra}\n")

    def _config(self):
        user = "user root\n" if os.geteuid() == 0 else ""
        text = f"""# generated by tests/integration/mosquitto.py
{user}per_listener_settings true
persistence false
sys_interval 1
log_dest file {self.log_file}
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
set_tcp_nodelay true
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
max_inflight_bytes 0
{self.extra}

"""
        text += self._listener(self.port, True)
        if self.auth:
            text += self._listener(self.auth_port, False, f"password_file {self.password_file}\n")
        if self.tls:
            text += self._listener(self.tls_port, True,
                                   f"cafile {self.ca_file}\ncertfile {self.cert_file}\n"
                                   f"keyfile {self.key_file}\n")
        return text

    def _port_names(self):
        return ("port",) + (("auth_port",) if self.auth else ()) + (
            ("tls_port",) if self.tls else ())

    def _prepare(self):
        self.conf.write_text(self._config())

    def _command(self):
        return [self.binary, "-c", str(self.conf)]

    def _is_ready_line(self, line):
        # "... mosquitto version 2.0.11 running", written once every listener is open. Not a
        # probe of a port: a probe connection would count against max_connections (see the
        # module's note).
        return (line.startswith(tuple("0123456789")) and line.endswith(" running")
                and ": mosquitto version " in line)

    def _not_ready(self):
        return "no 'running' line in its log"

    # ---- addresses -------------------------------------------------------------------------

    def url(self, path="", host="127.0.0.1"):
        return f"mqtt://{host}:{self.port}{path}"

    def auth_url(self, path="", host="127.0.0.1"):
        if not self.auth:
            raise MosquittoError("started without auth=True")
        return f"mqtt://{host}:{self.auth_port}{path}"

    def tls_url(self, path="", host="127.0.0.1"):
        if not self.tls:
            raise MosquittoError("started without tls=True")
        return f"mqtts://{host}:{self.tls_port}{path}"

    # ---- $SYS ------------------------------------------------------------------------------

    def sys(self, topic, timeout=5):
        """One retained $SYS value, as an int or float when it reads as one, else the text.
        topic is a whole topic or a path below $SYS/broker/ ("clients/connected"). The value
        is as of the broker's last $SYS tick (every second). Raises MosquittoError if the
        broker sends none within timeout seconds (as for a topic that does not exist)."""
        if not topic.startswith("$SYS/"):
            topic = "$SYS/" + (topic if topic.startswith("broker/") else "broker/" + topic)
        proc = subprocess.run(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-C", "1", "-W",
             str(int(timeout)), "-i", f"lt-harness-sys-{os.getpid()}-{time.monotonic_ns()}",
             "-t", topic], capture_output=True, text=True, timeout=timeout + 5)
        if proc.returncode != 0 or not proc.stdout.endswith("\n"):
            raise MosquittoError(f"no value for {topic} (mosquitto_sub exit {proc.returncode}: "
                                 f"{proc.stderr.strip()})")
        return _number(proc.stdout[:-1])

    def wait_sys(self, topic, predicate, timeout=10.0, interval=0.2):
        """Reads `topic` until predicate(value) holds; returns that value. Raises
        MosquittoError with the last value seen after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.sys(topic)
            if predicate(value):
                return value
            if time.monotonic() >= deadline:
                raise MosquittoError(f"{topic} is still {value!r} after {timeout}s")
            time.sleep(interval)


READY_TOPIC = "$SYS/broker/version"


class Subscriber:
    """mosquitto_sub in the background, subscribed to `topic` at `qos`, writing one line per
    message it receives ("QOS RETAIN LENGTH TOPIC": payloads are never printed, so binary ones
    are fine) to a file, which never blocks it the way an unread pipe would.

    Readiness. mosquitto_sub prints nothing when its subscription is acknowledged (its -d
    output sits in stdio's buffer until a message arrives), so it also subscribes, last in the
    same SUBSCRIBE, to the retained $SYS/broker/version: once that message is in the file the
    broker has processed the whole SUBSCRIBE. The constructor waits for it, so nothing published
    after it returns is missed. It publishes nothing itself ($SYS/broker/publish/messages/
    received stays exact; .../sent counts the version message). Those lines are left out of
    messages(); `subscriptions` counts them (mosquitto_sub reconnects and subscribes again by
    itself when the broker comes back after a restart). It needs $SYS (sys_interval > 0).

    port: any listener; for the TLS one pass ca_file, for the auth one username/password.
    client_id / clean=False: a persistent session (mosquitto_sub -c). extra_args: more
    mosquitto_sub arguments. directory: where the output file goes (default: a temp dir of its
    own). pause()/resume() stop and continue the process (SIGSTOP/SIGCONT): a subscriber that
    stops reading its socket."""

    def __init__(self, port, topic, qos=0, ca_file=None, username=None, password=None,
                 client_id=None, clean=True, extra_args=(), directory=None, ready_timeout=10.0):
        self.port = port
        self.topic = topic
        self.qos = qos
        self.client_id = client_id or f"lt-harness-sub-{os.getpid()}-{time.monotonic_ns()}"
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-i", self.client_id,
                "-q", str(qos), "-t", topic, "-t", READY_TOPIC, "-F", "%q %r %l %t",
                *extra_args]
        if ca_file:
            args += ["--cafile", str(ca_file)]
        if username is not None:
            args += ["-u", username]
        if password is not None:
            args += ["-P", password]
        if not clean:
            args.append("-c")
        self._own_dir = None
        if directory is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="lt-sub-")
            directory = self._own_dir.name
        self.out_path = Path(directory) / f"sub-{time.monotonic_ns()}.out"
        self.err_path = self.out_path.with_suffix(".err")
        self._offset = 0
        self._messages = []
        self.subscriptions = 0
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        self._wait_subscribed(ready_timeout)

    def _problem(self):
        out = self.out_path.read_bytes()[-2000:].decode(errors="replace")
        return (f"mosquitto_sub for {self.topic!r}:\n{self.err_path.read_text(errors='replace')}"
                f"{out}")

    def _wait_subscribed(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._read()
            if self.subscriptions:
                return
            if self.proc.poll() is not None:
                raise MosquittoError(f"exited with status {self.proc.returncode}; "
                                     f"{self._problem()}")
            time.sleep(0.005)
        self.stop()
        raise MosquittoError(f"not subscribed after {timeout}s; {self._problem()}")

    @staticmethod
    def _new_lines(path, offset):
        """Complete lines of path from offset on, and the offset after them."""
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        return data[:end - 1].decode(errors="replace").split("\n") if end else [], offset + end

    def _read(self):
        """Parses what mosquitto_sub has written since the last call."""
        lines, self._offset = self._new_lines(self.out_path, self._offset)
        for line in lines:
            q, r, n, t = line.split(" ", 3)
            if t == READY_TOPIC:
                self.subscriptions += 1
            else:
                self._messages.append((t, int(n), int(q), int(r)))

    def messages(self):
        """[(topic, payload length, qos, retain flag)] of the messages received so far, in
        order."""
        self._read()
        return list(self._messages)

    def count(self):
        self._read()
        return len(self._messages)

    def wait_count(self, at_least, timeout=10.0, settle=0.0):
        """Waits until at_least messages have arrived (or timeout); then, with settle > 0,
        waits that long more for extra ones. Returns the count."""
        deadline = time.monotonic() + timeout
        n = self.count()
        while n < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
            n = self.count()
        if settle:
            time.sleep(settle)
            n = self.count()
        return n

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        """Ends mosquitto_sub (SIGCONT first, in case it is paused); returns its stderr.
        messages() and count() still work after."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._read()
        return self.err_path.read_text(errors="replace")

    def close(self):
        self.stop()
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
