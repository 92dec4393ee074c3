"""A private nats-server on free loopback ports, and a small NATS client, for the NATS sink's tests.

    with NatsServer(tmp, tls=True, auth="token") as server:
        server.url()             # nats://127.0.0.1:PORT
        server.tls_url()         # tls://127.0.0.1:PORT  (same port; certificate signed by .ca_file)
        server.token             # also in server.token_file, without a newline (--token-file)
        with Client(server.port, tls=True, ca_file=server.ca_file, token=server.token) as sub:
            sub.sub("lt.>")
            sub.flush()                                  # the server has the SUB now
            ...
            sub.wait_count(1000)                         # messages the server delivered to it
        server.varz()["in_msgs"]                         # the server's own counters
        server.wait_varz("connections", lambda n: n == 0)
        server.connz(subs=1)["connections"]

Everything lives in a fresh directory under `tmp`: the config (nats.conf), the log (nats.log),
the server's stdout+stderr (stderr.log: config errors are reported there, before the log file
is opened), the credential files and (tls=True) a CA and a server certificate made by
server_process.make_certificates. nats-server (Debian 12: 2.9.10, /usr/sbin) runs in the
foreground as our child. It never touches /etc/nats-server.conf or port 4222, and runs no
JetStream (no storage). The life cycle (the directory, free ports, start and its retries, stop,
kill, restart, log(), nofile) is server_process.py's ServerProcess, described there.

Ports (both on 127.0.0.1, both free ones): `port`, the client port, and `http_port`, the HTTP
monitoring port (/varz, /connz, /subsz; monitoring requests are not NATS connections and count
nowhere but varz's http_req_stats). Ready means the log's "Server is ready" line, which
nats-server writes once the monitoring and the client listener are both open: the harness
makes no connection to find out. The config has no debug/trace (no -V): tracing every protocol
line would slow the server down and fill the log.

Options: auth="token" (a random `token`; `token_file` holds it without a newline) or
auth="user" (`username`, `password`; `password_file` holds the password without a newline);
credentials are only in the config file, never on a command line. A client with no or wrong
credentials gets "-ERR 'Authorization Violation'" and is closed (the log says "authentication
error"). The password is plain text in the config: 2.9 accepts that (bcrypt would work too).
Monitoring is never authenticated. max_payload: bytes (default 1 MiB; at most max_pending,
64 MiB, or nats-server refuses to start); a bigger PUB gets "-ERR 'Maximum Payload Violation'"
and the connection is closed. The server announces its max_payload in INFO. max_connections
(default 64K): the one over the limit gets INFO, then "-ERR 'maximum connections exceeded'",
and is closed. extra: more config text, e.g. 'write_deadline: "2s"' or "max_pending: 1MB".

TLS (tls=True). There is one client port and it requires TLS. nats-server 2.9 speaks first, in
plain text: it sends its INFO (with "tls_required":true) unencrypted and only then expects the
client's TLS handshake; there is no handshake_first (TLS-first) option before 2.10. So a client
connects, reads one plain INFO line, starts TLS, and sends CONNECT inside it. A client that
sends its ClientHello at once reads the plain INFO as a TLS record and fails (Python:
WRONG_VERSION_NUMBER); a plain CONNECT after INFO gets no -ERR at all, just a closed
connection (the log: "TLS handshake error: first record does not look like a TLS handshake").
The certificate is for IP 127.0.0.1 and DNS localhost; the tls timeout is 2 s. url() still
gives nats://; tls_url() gives tls://. /connz shows tls_version and tls_cipher_suite.

Counters (what the NATS sink's tests compare the tool's counts with). Measured on 2.9.10:
  /varz in_msgs, in_bytes: every PUB/HPUB a client sent, whether anyone is subscribed or
    not (a Responder's replies included); in_bytes counts payload bytes only (the header
    block included for HPUB; no protocol lines). Not bumped per message but per read: a
    connection's read loop parses all one read() returned, then adds that batch to the
    server's and the connection's counters, then flushes what the batch produced. A PONG is
    only queued while its batch is parsed, so in practice a client that sends PUBs, then
    PING, and has its PONG sees them in /varz at once (the tests check that 300 times in a
    row; 500/500 in a separate run), though nothing orders the two. PUBs from another
    connection may still be unread, so use wait_varz() for another client's (the tool's)
    counts. SUB, PING, CONNECT count nowhere.
  The end of a connection. Once a client closed cleanly (FIN) and /varz connections no
    longer includes it, all it sent is in in_msgs: the read loop counts its last batch
    before it reads the end. But a client that closes with unread data in its socket (a
    PONG, a MSG, a server PING) makes Linux send RST, and nats-server loses whatever it had
    not read yet ("Read Error" in /connz?state=closed): typically 10,000+ of 20,000 small
    PUBs written just before the close. A sink must read until its last PONG (or
    shutdown(SHUT_WR) and read to EOF) before it closes, or the server's count will be short.
  /varz total_connections is bumped before the server sends INFO; connections (open now)
    only a moment later, when the client is registered: right after INFO, connections may
    not include it yet (2 of 200 tries here). A client that has had its first PONG is in it.
  /varz out_msgs, out_bytes: one per delivery to a subscription, counted when the message is
    queued for that subscriber (during the publisher's read loop), before it is written to
    the subscriber's socket: out_msgs can be ahead of what subscribers got, and counts
    deliveries that were lost when a slow consumer was cut off.
  /varz slow_consumers: bumped the moment the server gives up on a subscriber, which is not
    when the publisher's PONG comes: a subscriber that stops reading is cut off once its
    pending data passes max_pending (64 MiB by default; "Slow Consumer (Pending Bytes)") or a
    write to it blocks longer than write_deadline (10 s by default; "... (Write Deadline)"),
    i.e. write_deadline after its socket buffers filled. Use wait_varz(). Meanwhile it slows
    its publishers down: their read loops wait for it (with max_pending 64 KiB, 20 MB
    published to a paused subscriber took 20 s), so a test with a stalled subscriber
    should lower write_deadline (extra='write_deadline: "500ms"'), not max_pending.
  /varz subscriptions: every subscription in the server, including about 40 of its own
    system account; /subsz num_subscriptions is the same number. Compare differences.
  /connz: num_connections is the number of entries in this page, total the number of open
    client connections; a page holds at most `limit` entries (default 1024!): pass limit=
    (and offset=) for more. Each entry: cid, ip, port, name, lang, version, rtt,
    in_msgs/in_bytes (as in varz, per read batch), out_msgs/out_bytes (per delivery to it),
    pending_bytes, subscriptions (a count); subs=1 adds subscriptions_list (subjects),
    subs="detail" subscriptions_list_detail (subject, qgroup, sid, msgs); auth=1 adds
    authorized_user; cid=N selects one. state="closed" lists recently closed connections
    (up to 10,000) with a `reason` ("Client Closed", "Read Error", "Authentication
    Failure", "Slow Consumer (...)", "Maximum Message Payload Exceeded", "Maximum
    Connections Exceeded"), each a moment after it left /varz connections. A monitoring
    read takes about 1 ms.
All counters restart from 0 when the server does.

Life cycle. stop() sends SIGINT (nats-server closes its connections and exits 0; SIGTERM would
make it exit 1). kill() is SIGKILL, a server dying mid-run. restart() starts it again on the
same two ports at once: Go's listeners set SO_REUSEADDR, so connections the dead server left in
TIME_WAIT do not stand in the way (kill + restart took 13-26 ms with 200 of them on the port).

Descriptors. nats-server takes one descriptor per client; its default max_connections is 64K.
Its soft RLIMIT_NOFILE is raised to the hard limit before exec (Go 1.19+, which 2.9.10 is
built with, also does that itself at start-up); `nofile` says what it got. max_connections is
exact: the one over the limit is refused, and a close frees one slot.

Root. Unlike mosquitto, nats-server has no `user` setting and never switches users, so it
runs as whoever starts it, root included; it only listens on 127.0.0.1.

This module does not import pytest or the tests' conftest, so bench scripts can load it by path,
with tests/integration on sys.path while it loads (it imports its sibling server_process.py).
"""
import collections
import json
import secrets
import select
import signal
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request

# free_port: also this module's, as before server_process.py.
from server_process import ServerProcess, find_binary, free_port  # noqa: F401

READY_LINE = "Server is ready"


def find_nats_server():
    """Path of the nats-server binary (LT_NATS_SERVER overrides), or None. Debian puts it in
    /usr/sbin, which is often not on a non-root PATH."""
    return find_binary("LT_NATS_SERVER", "nats-server",
                       ("/usr/sbin/nats-server", "/usr/local/sbin/nats-server",
                        "/usr/local/bin/nats-server"))


def _quote(value):
    """A string value for nats-server's config (JSON string syntax is accepted)."""
    return json.dumps(str(value))


class NatsError(RuntimeError):
    pass


# No proxy for the monitoring port, whatever http_proxy says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NatsServer(ServerProcess):
    """nats-server on a free 127.0.0.1 client port (`port`) with monitoring on `http_port`.

    tls: TLS required on the client port. auth: None, "token" or "user". max_payload,
    max_connections: bytes / clients (None: the server's defaults, 1 MiB / 64K). extra: config
    text added at the end (it can override the harness's settings). Starts at once unless
    start=False; stop() (or leaving a with block) ends it: SIGINT, on which nats-server closes
    every connection and exits 0. The life cycle (start, restart, stop, kill, log, running,
    nofile) is server_process.ServerProcess's."""

    name = "nats-server"
    env = "LT_NATS_SERVER"
    dir_prefix = "nats"
    conf_name, log_name = "nats.conf", "nats.log"
    error = NatsError
    stop_signal = signal.SIGINT  # SIGTERM would make it exit 1
    poll_interval = 0.005

    def __init__(self, tmp, tls=False, auth=None, max_payload=None, max_connections=None,
                 extra="", start=True, start_timeout=10.0):
        if auth not in (None, "token", "user"):
            raise ValueError(f"auth must be None, 'token' or 'user', not {auth!r}")
        super().__init__(tmp, find_nats_server(), tls, start_timeout)
        self.auth = auth
        self.max_payload = max_payload
        self.max_connections = max_connections
        self.extra = extra
        self.token = self.token_file = None
        self.username = self.password = self.password_file = None
        if auth == "token":
            self.token = "lt-" + secrets.token_hex(16)
            self.token_file = self.dir / "token"
            self.token_file.write_text(self.token)
        elif auth == "user":
            self.username = "lt-user"
            self.password = "lt-" + secrets.token_hex(8)
            self.password_file = self.dir / "password"
            self.password_file.write_text(self.password)
        self.port = self.http_port = None
        if start:
            self.start()

    # ---- config, and what the life cycle needs ---------------------------------------------

    def _config(self):
        lines = [
            "# generated by tests/integration/nats.py",
            f"server_name: {_quote(f'lt-nats-{self.port}')}",
            f"listen: {_quote(f'127.0.0.1:{self.port}')}",
            f"http: {_quote(f'127.0.0.1:{self.http_port}')}",
            f"log_file: {_quote(self.log_file)}",
            "logtime: true",
            "debug: false",
            "trace: false",
        ]
        if self.max_payload is not None:
            lines.append(f"max_payload: {int(self.max_payload)}")
        if self.max_connections is not None:
            lines.append(f"max_connections: {int(self.max_connections)}")
        if self.auth == "token":
            lines.append(f"authorization {{\n  token: {_quote(self.token)}\n}}")
        elif self.auth == "user":
            lines.append(f"authorization {{\n  user: {_quote(self.username)}\n"
                         f"  password: {_quote(self.password)}\n}}")
        if self.tls:
            lines.append(f"tls {{\n  cert_file: {_quote(self.cert_file)}\n"
                         f"  key_file: {_quote(self.key_file)}\n  timeout: 2\n}}")
        return "\n".join(lines) + f"\n{self.extra}\n"

    def _port_names(self):
        return ("port", "http_port")

    def _prepare(self):
        self.conf.write_text(self._config())

    def _command(self):
        return [self.binary, "-c", str(self.conf)]

    def _is_ready_line(self, line):
        # Written once the monitoring and the client listener are both open.
        return line.endswith(f"] {READY_LINE}")

    def _not_ready(self):
        return f"no {READY_LINE!r} line in its log"

    # ---- addresses -------------------------------------------------------------------------

    def url(self, host="127.0.0.1"):
        return f"nats://{host}:{self.port}"

    def tls_url(self, host="127.0.0.1"):
        if not self.tls:
            raise NatsError("started without tls=True")
        return f"tls://{host}:{self.port}"

    def monitor_url(self, path="/varz"):
        return f"http://127.0.0.1:{self.http_port}{path}"

    # ---- monitoring ------------------------------------------------------------------------

    def monitor(self, path, **params):
        """GET a monitoring endpoint; returns the parsed JSON. params go in the query string
        (True/False as true/false)."""
        query = urllib.parse.urlencode(
            {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()})
        url = self.monitor_url(path) + (f"?{query}" if query else "")
        try:
            with _OPENER.open(url, timeout=5) as reply:
                return json.loads(reply.read())
        except OSError as e:
            raise NatsError(f"GET {url}: {e}") from e

    def varz(self):
        return self.monitor("/varz")

    def connz(self, **params):
        """/connz; e.g. connz(subs=1), connz(limit=20000), connz(state="closed")."""
        return self.monitor("/connz", **params)

    def subsz(self, **params):
        return self.monitor("/subsz", **params)

    def wait_varz(self, key, predicate, timeout=10.0, interval=0.02):
        """Reads /varz until predicate(varz[key]) holds; returns that value. Raises NatsError
        with the last value seen after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.varz().get(key)
            if predicate(value):
                return value
            if time.monotonic() >= deadline:
                raise NatsError(f"varz {key} is still {value!r} after {timeout}s")
            time.sleep(interval)


# ---- a small NATS client ------------------------------------------------------------------

Msg = collections.namedtuple("Msg", "subject sid reply headers payload")
Msg.__doc__ = ("A MSG or HMSG: headers is None for MSG, else the raw header block "
               "(b'NATS/1.0...\\r\\n\\r\\n'); payload is bytes without the headers.")


def parse_headers(block):
    """(status line, {name: [values]}) of a raw header block. The status line is "NATS/1.0",
    or e.g. "NATS/1.0 503" for a no-responders answer."""
    lines = block.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), []).append(value.strip())
    return lines[0], fields


def encode_headers(headers):
    text = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return text.encode()


class NoResponders(NatsError):
    pass


class Client:
    """A NATS client on one plain or TLS connection, for tests (not fast: tens of thousands of
    messages a second). The constructor connects: it reads INFO (`info`), starts TLS if asked
    (after INFO, as nats-server 2.9 wants), sends CONNECT {"verbose":false,"pedantic":false,
    "headers":true,"no_responders":true, credentials} and PING, and waits for PONG; an -ERR
    instead raises NatsError with the server's message (e.g. 'Authorization Violation').

    Then one background thread does all the socket I/O (so a TLS connection is never read and
    written from two threads at once): it writes what publish()/sub()/flush() queued, answers
    the server's PINGs, and parses MSG and HMSG, counting messages per subject (count(),
    counts(), wait_count()), keeping them when keep=True (messages()) and calling
    on_message(client, msg) for each (in that thread; on_message may publish). -ERR lines
    after connecting go to `errors`. When the server closes the connection, `closed` is set.
    pause()/resume() stop and restart reading the socket: a subscriber that falls behind."""

    def __init__(self, port, host="127.0.0.1", tls=False, ca_file=None, user=None,
                 password=None, token=None, name="lt-test-client", keep=False, on_message=None,
                 timeout=5.0, headers=True, echo=True):
        self.port = port
        self.keep = keep
        self.on_message = on_message
        self.timeout = timeout
        self.info = None
        self.errors = []
        self.closed = threading.Event()
        self.close_reason = None
        self._messages = []
        self._counts = collections.Counter()
        self._total = 0
        self._bytes = 0
        self._cond = threading.Condition()
        self._out = bytearray()
        self._wlock = threading.Lock()
        self._pings = 0
        self._pongs = 0
        self._sid = 0
        self._paused = threading.Event()
        self._closing = False
        self._inbox = None
        self._replies = {}
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            line, rest = self._read_line(sock, b"")
            if not line.startswith(b"INFO "):
                raise NatsError(f"expected INFO, got {line!r}")
            self.info = json.loads(line[5:])
            if tls:
                context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
                sock = context.wrap_socket(sock, server_hostname=host)
                rest = b""
            connect = {"verbose": False, "pedantic": False, "headers": headers,
                       "no_responders": headers, "echo": echo, "lang": "python-lt-test",
                       "version": "0.1", "protocol": 1, "name": name, "tls_required": tls}
            if user is not None:
                connect["user"] = user
            if password is not None:
                connect["pass"] = password
            if token is not None:
                connect["auth_token"] = token
            sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
            while True:
                line, rest = self._read_line(sock, rest)
                if line == b"PONG":
                    break
                if line.startswith(b"-ERR"):
                    raise NatsError(f"-ERR {self._err_text(line)}")
                if line == b"PING":
                    sock.sendall(b"PONG\r\n")
                elif line.startswith(b"INFO "):
                    self.info = json.loads(line[5:])
                # +OK cannot come (verbose false); anything else before PONG is ignored.
        except BaseException:
            sock.close()
            raise
        sock.setblocking(False)
        self.sock = sock
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._io_loop, args=(bytearray(rest),),
                                        name=f"nats-client-{port}", daemon=True)
        self._thread.start()

    @staticmethod
    def _err_text(line):
        return line[4:].decode(errors="replace").strip().strip("'")

    @staticmethod
    def _read_line(sock, buf):
        """One CRLF line from a blocking socket: (line, what came after it)."""
        buf = bytes(buf)
        while b"\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"connection closed after {buf!r}")
            buf += chunk
        line, _, rest = buf.partition(b"\r\n")
        return line, rest

    # ---- the I/O thread --------------------------------------------------------------------

    def _wake(self):
        if threading.current_thread() is not self._thread:
            try:
                self._wake_w.send(b"x")
            except (BlockingIOError, OSError):
                pass

    def _enqueue(self, data):
        with self._wlock:
            if self._closing or self.closed.is_set():
                raise ConnectionError(f"connection closed ({self.close_reason})")
            self._out += data
        self._wake()

    def _io_loop(self, buf):
        sock = self.sock
        is_tls = isinstance(sock, ssl.SSLSocket)
        reason = None
        try:
            if buf:
                buf = self._parse(buf)
            while True:
                with self._wlock:
                    if self._closing:
                        reason = "closed by the client"
                        break
                    want_write = bool(self._out)
                paused = self._paused.is_set()
                if not paused and is_tls and sock.pending():
                    readable, writable = True, False
                else:
                    rlist = [self._wake_r] if paused else [self._wake_r, sock]
                    r, w, _ = select.select(rlist, [sock] if want_write else [], [], 0.5)
                    if self._wake_r in r:
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except BlockingIOError:
                            pass
                    readable, writable = sock in r, sock in w
                if writable:
                    with self._wlock:
                        chunk = bytes(self._out[:1 << 18])
                    try:
                        sent = sock.send(chunk)
                    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        sent = 0
                    with self._wlock:
                        del self._out[:sent]
                if readable:
                    try:
                        data = sock.recv(1 << 18)
                    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue
                    if not data:
                        reason = "closed by the server"
                        break
                    buf += data
                    buf = self._parse(buf)
        except Exception as e:  # noqa: BLE001 - a socket error, a bad frame, on_message
            reason = f"{type(e).__name__}: {e}"
        self.close_reason = reason
        with self._cond:
            self.closed.set()
            self._cond.notify_all()

    def _parse(self, buf):
        """Handles every complete frame in buf; returns what is left (an incomplete frame)."""
        pos, n = 0, len(buf)
        batch = []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            line = bytes(buf[pos:eol])
            head = line[:4].upper()
            if head == b"MSG ":
                parts = line.split()
                subject, sid = parts[1].decode(), int(parts[2])
                reply = parts[3].decode() if len(parts) == 5 else None
                start = eol + 2
                end = start + int(parts[-1])
                if end + 2 > n:
                    break
                batch.append(Msg(subject, sid, reply, None, bytes(buf[start:end])))
                pos = end + 2
            elif head == b"HMSG":
                parts = line.split()
                subject, sid = parts[1].decode(), int(parts[2])
                reply = parts[3].decode() if len(parts) == 6 else None
                hdr_len, total = int(parts[-2]), int(parts[-1])
                start = eol + 2
                end = start + total
                if end + 2 > n:
                    break
                batch.append(Msg(subject, sid, reply, bytes(buf[start:start + hdr_len]),
                                 bytes(buf[start + hdr_len:end])))
                pos = end + 2
            else:
                pos = eol + 2
                if head == b"PING":
                    with self._wlock:
                        self._out += b"PONG\r\n"
                elif head == b"PONG":
                    with self._cond:
                        self._pongs += 1
                        self._cond.notify_all()
                elif head == b"-ERR":
                    with self._cond:
                        self.errors.append(self._err_text(line))
                        self._cond.notify_all()
                elif head == b"INFO":
                    self.info = json.loads(line[5:])
                # +OK: nothing to do.
        if batch:
            with self._cond:
                for m in batch:
                    self._counts[m.subject] += 1
                    self._bytes += len(m.payload)
                    if self._inbox and m.subject.startswith(self._inbox):
                        self._replies[m.subject] = m
                self._total += len(batch)
                if self.keep:
                    self._messages.extend(batch)
                self._cond.notify_all()
            if self.on_message:
                for m in batch:
                    self.on_message(self, m)
        del buf[:pos]
        return buf

    # ---- the protocol ----------------------------------------------------------------------

    def sub(self, subject, queue=None):
        """SUB subject [queue] sid; returns the sid. flush() after it to be sure the server has
        it before something else publishes."""
        with self._wlock:
            self._sid += 1
            sid = self._sid
        self._enqueue(f"SUB {subject} {queue + ' ' if queue else ''}{sid}\r\n".encode())
        return sid

    def unsub(self, sid, max_msgs=None):
        self._enqueue(f"UNSUB {sid}{' ' + str(max_msgs) if max_msgs else ''}\r\n".encode())

    @staticmethod
    def _pub_frame(subject, payload, reply=None, headers=None):
        if isinstance(payload, str):
            payload = payload.encode()
        reply_part = f" {reply}" if reply else ""
        if headers is None:
            return f"PUB {subject}{reply_part} {len(payload)}\r\n".encode() + payload + b"\r\n"
        block = headers if isinstance(headers, bytes) else encode_headers(headers)
        return (f"HPUB {subject}{reply_part} {len(block)} {len(block) + len(payload)}\r\n"
                .encode() + block + payload + b"\r\n")

    def publish(self, subject, payload=b"", reply=None, headers=None):
        """PUB (or HPUB, with headers: a dict or a raw b'NATS/1.0\\r\\n...\\r\\n\\r\\n' block).
        Queued for the I/O thread; flush() waits until the server has processed it."""
        self._enqueue(self._pub_frame(subject, payload, reply, headers))

    def publish_many(self, subject, payload, count):
        """count identical PUBs in one go (fast)."""
        self._enqueue(self._pub_frame(subject, payload) * count)

    def flush(self, timeout=None):
        """PING, and wait for its PONG: everything sent before it has been processed by the
        server (and messages it routed to other clients are queued for them)."""
        timeout = self.timeout if timeout is None else timeout
        with self._wlock:
            if self._closing or self.closed.is_set():
                raise ConnectionError(f"connection closed ({self.close_reason})")
            self._pings += 1
            target = self._pings
            self._out += b"PING\r\n"
        self._wake()
        with self._cond:
            if not self._cond.wait_for(lambda: self._pongs >= target or self.closed.is_set(),
                                       timeout):
                raise NatsError(f"no PONG within {timeout}s")
            if self._pongs < target:
                raise ConnectionError(f"connection closed before PONG ({self.close_reason}; "
                                      f"errors {self.errors})")

    def request(self, subject, payload=b"", timeout=None, headers=None):
        """Publishes with a reply subject in this client's inbox and waits for the answer (a
        Msg). Raises NoResponders on nats-server's 503 (nobody subscribed), NatsError on
        timeout."""
        timeout = self.timeout if timeout is None else timeout
        if self._inbox is None:
            self._inbox = f"_INBOX.{secrets.token_hex(8)}."
            self.sub(self._inbox + "*")
        with self._wlock:
            self._sid += 1
            reply = f"{self._inbox}{self._sid}"
        self.publish(subject, payload, reply=reply, headers=headers)
        with self._cond:
            if not self._cond.wait_for(lambda: reply in self._replies or self.closed.is_set(),
                                       timeout):
                raise NatsError(f"no reply to {subject!r} within {timeout}s")
            if reply not in self._replies:
                raise ConnectionError(f"connection closed ({self.close_reason})")
            msg = self._replies.pop(reply)
        if msg.headers is not None and not msg.payload:
            status = parse_headers(msg.headers)[0].split()
            if len(status) > 1 and status[1] == "503":
                raise NoResponders(f"no responders for {subject!r}")
        return msg

    # ---- what arrived ----------------------------------------------------------------------

    def count(self, subject=None):
        """Messages received, in all or on one subject (replies to request() included)."""
        with self._cond:
            return self._total if subject is None else self._counts[subject]

    def counts(self):
        with self._cond:
            return dict(self._counts)

    @property
    def bytes_received(self):
        """Payload bytes of the messages received (headers not included)."""
        with self._cond:
            return self._bytes

    def messages(self):
        """The Msgs received, in order (keep=True only)."""
        with self._cond:
            return list(self._messages)

    def wait_count(self, at_least, timeout=10.0, subject=None, settle=0.0):
        """Waits until at_least messages (on subject, if given) have arrived, the connection
        closed, or timeout; then, with settle > 0, waits that long more for extra ones.
        Returns the count."""
        with self._cond:
            self._cond.wait_for(lambda: self._count_locked(subject) >= at_least
                                or self.closed.is_set(), timeout)
        if settle:
            time.sleep(settle)
        return self.count(subject)

    def _count_locked(self, subject):
        return self._total if subject is None else self._counts[subject]

    def wait_closed(self, timeout=10.0):
        return self.closed.wait(timeout)

    def pause(self):
        """Stops reading the socket: the server's writes to us back up."""
        self._paused.set()

    def resume(self):
        self._paused.clear()
        self._wake()

    def close(self, flush=True):
        """Ends the connection. With flush (the default) and the connection still up, first
        a PING and its PONG: the server has then read everything we sent, and closing with
        nothing unread in our socket sends FIN, not RST (after an RST nats-server drops what
        it had not read yet; see the module's notes)."""
        self._paused.clear()
        if flush and not self.closed.is_set():
            try:
                self.flush()
            except (NatsError, ConnectionError):
                pass
        with self._wlock:
            self._closing = True
        self._wake()
        self._thread.join(timeout=10)
        for s in (self.sock, self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Responder(Client):
    """"An existing service" for the tool's request mode: subscribes to `subject` (in queue
    group `queue`, if given) and answers each message that has a reply subject by publishing
    respond(msg) to it (default: the same payload; None: no answer). `requests` counts the
    messages with a reply subject, `no_reply` those without; wait_requests() waits for a count.
    The constructor returns once the server has the subscription."""

    def __init__(self, port, subject, queue=None, respond=None, **kw):
        self.subject = subject
        self.queue = queue
        self.respond = respond or (lambda msg: msg.payload)
        self.requests = 0
        self.no_reply = 0
        self.answered = 0
        super().__init__(port, on_message=Responder._answer, **kw)
        self.sid = self.sub(subject, queue)
        self.flush()

    def _answer(self, msg):
        if msg.reply is None:
            with self._cond:
                self.no_reply += 1
            return
        answer = self.respond(msg)
        with self._cond:
            self.requests += 1
            self._cond.notify_all()
        if answer is not None:
            with self._wlock:
                self._out += self._pub_frame(msg.reply, answer)
            with self._cond:
                self.answered += 1
                self._cond.notify_all()

    def wait_requests(self, at_least, timeout=10.0):
        with self._cond:
            self._cond.wait_for(lambda: self.requests >= at_least or self.closed.is_set(),
                                timeout)
            return self.requests
