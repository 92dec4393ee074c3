"""A private RabbitMQ node on free loopback ports, and a minimal AMQP 0-9-1 client, for the AMQP
sink's tests.

    with RabbitMq(tmp, tls=True, auth="user") as broker:
        broker.url()                 # amqp://guest:guest@127.0.0.1:PORT/%2F
        broker.url(user=broker.username, password=broker.password, vhost="lt")
        broker.tls_url()             # amqps://...:TLS_PORT/%2F (certificate signed by .ca_file)
        broker.declare_queue("q")    # durable, with amqp-declare-queue
        ...
        broker.queues()              # {"q": 1000}: ready + unacked, per queue
        broker.wait_queue("q", lambda n: n == 1000)
        broker.block() ... broker.unblock()      # a memory alarm: publishers get blocked
        broker.ctl("list_exchanges")             # any rabbitmqctl command's stdout

Measured here (Debian 12's rabbitmq-server 3.10.8 on Erlang/OTP 25.2.3, 2 vCPUs, with another
RabbitMQ node busy on the machine at times): start() takes 6.5-9 s to the ready line (a
restart, or a start after kill(), is no faster than the first start of a fresh directory:
about 2.5 s of it is the VM booting and parsing the config, 2.5 s loading the broker before
its first boot step), plus about 1.2 s for auth="user"'s two rabbitmqctl calls; stop() 1-3 s
(SIGTERM, the node's own shutdown; usually 1.1 s), kill() 0.02 s; every rabbitmqctl call
0.4-0.8 s whatever the command (the CLI is an Erlang VM of its own that joins the node's
distribution). So tests share one broker per module (conftest.py's rabbitmq_module) and keep
rabbitmqctl calls out of loops; AMQP clients are the fast way in (amqp-tools: a declare or a
publish takes about 10 ms). test_rabbitmq_harness.py, with two nodes, takes about 45 s.

Everything lives in a fresh directory under `tmp`: rabbitmq.conf (`conf`), the node's log
(rabbitmq.log, `log_file`; RABBITMQ_LOGS), its stdout+stderr (stderr.log: the banner and early
boot errors), the database (mnesia/, RABBITMQ_MNESIA_BASE; the node's own directory in it is
`mnesia_dir`, RABBITMQ_MNESIA_DIR), the enabled-plugins file (RABBITMQ_ENABLED_PLUGINS_FILE:
"[]." - no plugins, so no management HTTP API, which would add to the start-up and whose queue
numbers come from periodic statistics, every 5 s by default; rabbitmqctl asks the queues), an
empty rabbitmq-env.conf (RABBITMQ_CONF_ENV_FILE: otherwise the scripts source
/etc/rabbitmq/rabbitmq-env.conf), a non-existent advanced.config (else /etc/rabbitmq's would be
read), home/ (HOME) with our own .erlang.cookie, and (tls=True) a CA and a server certificate
made by server_process.make_certificates. ERL_CRASH_DUMP points into the directory too (an
Erlang VM that crashes writes erl_crash.dump to its cwd otherwise). Every variable is in
`environment()`, which ctl() uses as well. The node never touches /etc/rabbitmq,
/var/lib/rabbitmq, /var/log/rabbitmq, the system's node rabbit@HOST or ports 5672/25672/4369.

The node. `node` is lt-PID-NS@localhost (RABBITMQ_NODENAME, unique per harness; the host part
is always "localhost", so it needs no DNS). The program is /usr/lib/rabbitmq/bin/rabbitmq-server
(LT_RABBITMQ_SERVER overrides), not /usr/sbin/rabbitmq-server: Debian's /usr/sbin wrappers
(rabbitmq-server, rabbitmqctl) run the real script under `su rabbitmq`, and cd to
/var/lib/rabbitmq and use its cookie, which is no good for a private node (the rabbitmq user
cannot even enter the tests' 0700 directory). The script normally stays as a shell that runs
the VM in the background and turns SIGTERM into a kill of it; with RABBITMQ_ALLOW_INPUT set it
`exec`s erl instead (erl execs erlexec, which execs beam.smp), so `proc` is beam.smp itself: a
SIGKILL reaches the node, not a shell that would leave it orphaned. That path leaves out
-noinput and +B i, so RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS adds them back, together with
"-kernel inet_dist_use_interface {127,0,0,1}" (the distribution port would listen on 0.0.0.0).
The VM's children are erl_child_setup, two inet_gethost and a "/bin/sh -s rabbit_disk_monitor";
they exit when beam.smp does (their pipes close), and stop()/kill() also SIGKILL any of them
still alive 2 s later. Those that outlive their parent by a moment are re-parented to PID 1
and can show in ps as "[inet_gethost] <defunct>" or "[erl_child_setup] <defunct>" for up to a
minute (zombies: they hold no port or file, and PID 1 reaps them); pids() leaves zombies out.

Ports (all picked free, all on 127.0.0.1): `port` (AMQP, listeners.tcp.default), `dist_port`
(Erlang distribution, RABBITMQ_DIST_PORT: rabbitmqctl reaches the node there), `epmd_port` and,
with tls=True, `tls_port` (listeners.ssl.default). While it runs, each rabbitmqctl also listens
on one free port of 35672-35682 (its own distribution port; RABBITMQ_CTL_DIST_PORT_MIN/MAX).

epmd. An Erlang node with a short name registers with epmd, the port mapper, which rabbitmqctl
then asks for the node's distribution port. Left alone, the node (and rabbitmqctl, and
rabbit's own ensure_epmd, which runs `erl -sname epmd-starter-N ... -s erlang halt` at every
boot) starts `epmd -daemon` on 4369 if none answers there: as root that works, but the daemon
detaches (its parent becomes PID 1) and outlives the node and the tests. So the harness runs
its own epmd in the foreground as a second child (`epmd_proc`: `epmd -address 127.0.0.1 -port
EPMD_PORT`; epmd adds ::1 by itself) before the node (ready once it accepts a connection: that
probe leaves "got partial packet only" in epmd.log), and sets ERL_EPMD_PORT=EPMD_PORT for the
node and for rabbitmqctl (the scripts export it; erl and the CLI both honour it, and the
daemons they would start find the port taken and exit at once). stop() and kill() end it
after the node, so nothing is left. ctl() refuses to run while the node is down: rabbitmqctl
would start a detached epmd itself.

Cookie. The node and rabbitmqctl read $HOME/.erlang.cookie; HOME is the directory's home/,
where the harness writes a random cookie (mode 0400, as Erlang insists) before the first
start: rabbitmqctl with the same environment() gets in; one with another cookie gets "TCP
connection succeeded but Erlang distribution failed".

Ready means the log's "Server startup complete; N plugins started." line, which 3.10 writes
(to rabbitmq.log) once every listener is open ("started TCP listener on 127.0.0.1:PORT" comes
just before it): the harness makes no AMQP connection to find out, so none shows in
connections(). start_timeout is 60 s.

Config (rabbitmq.conf, the new-style format): listeners.tcp.default = 127.0.0.1:PORT;
loopback_users = none (guest/guest works, though it only comes from 127.0.0.1 anyway);
vm_memory_high_watermark.relative = 0.4 and disk_free_limit.absolute = 50MB (the defaults,
written out because unblock() sets them back); log.console = false, log.file.level = info;
with tls=True the ssl listener with ssl_options.cacertfile/certfile/keyfile, verify_none,
fail_if_no_peer_cert false. extra: text appended, which can override any of it, e.g.
"vm_memory_high_watermark.absolute = 1" to start with publishers blocked, or
"heartbeat = 5"; pass unblock(memory=...) the value you want back if you override those.

Users. guest/guest (the default user, administrator, full permissions on "/") works. auth="user"
adds `username` (lt-user) with a random `password` and full permissions on "/" after the first
start, through rabbitmqctl (about 1 s more); `password_file` holds the password without a
newline. A wrong password is refused: RabbitMQ 3.10 answers PLAIN with Connection.Close 403
ACCESS_REFUSED when the client announced the authentication_failure_close capability (Client
does; amqp-tools prints "ACCESS_REFUSED - Login was refused ..."), else it just closes the
socket. A user without permissions on a vhost gets Connection.Close 530 NOT_ALLOWED at
Connection.Open. add_user, add_vhost (which also gives guest full permissions there, unless
grant_guest=False), set_permissions are rabbitmqctl calls.

Counting. queues(vhost) is `rabbitmqctl list_queues name messages` as JSON: messages is
ready + unacknowledged, read from each queue process when asked (no lag, unlike the management
plugin's). A publish is counted once the queue process has handled it: a publisher that waits
for its publisher confirm (or closes its channel cleanly) can count on it; after a plain
basic.publish use wait_queue(). connections() counts list_connections lines (every AMQP
connection, whichever state: running, blocking, blocked, flow).

Alarms (connection.blocked). block() sets a memory alarm at run time: `rabbitmqctl
set_vm_memory_high_watermark absolute 1` (one byte), which the node acts on at once (the log:
"memory resource limit alarm set", "*** Publishers will be blocked until this alarm clears
***"); unblock() sets 0.4 back and the alarm clears at once. block(disk=True) uses the disk
alarm instead (set_disk_free_limit 1000000GB; unblock: 50MB). alarms() lists what is set
(rabbit_alarm:get_alarms() through rabbitmqctl eval). What a client sees, measured on 3.10:
nothing while it only sits there. When the alarm goes on, every connection goes to state
"blocking" (list_connections state); the first publish on it afterwards (or on a connection
opened during the alarm) makes it "blocked": the node stops reading its socket (what it sends
next waits in the socket buffers, and reaches the queue after unblock()) and, if the client
announced the connection.blocked capability (Client does; librabbitmq, i.e. amqp-tools, does
too), sends Connection.Blocked "low on memory" (or "low on disk") right away. A connection that
never publishes gets no Connection.Blocked and stays "blocking". unblock() sends
Connection.Unblocked to those that got Connection.Blocked, and every connection is "running"
again. The publish that triggered the block is not lost: it reaches the queue after unblock().
Consumers are never blocked. So a test of the sink's connection.blocked handling calls block(),
then lets the sink publish, and expects it to stall until unblock().

Life cycle. stop() sends SIGTERM: rabbit logs "SIGTERM received - shutting down", closes its
connections (clients get Connection.Close 320 CONNECTION_FORCED "broker forced connection
closure with reason 'shutdown'"), stops, and the VM exits 0. kill() is SIGKILL, a node dying
mid-run. Both then end the VM's leftover children and our epmd. restart() starts the node again
on the same ports with the same node name and database: durable queues and their persistent
messages survive (transient messages in durable queues and non-durable queues do not), and so
do users, vhosts and permissions; the alarm thresholds set by block() do not (they are back to
the config's). After kill() the next start recovers the same way (persistent messages that
were confirmed survive) and takes no longer; a restart right after kill() with a client
connected gets the same ports back (the tests do that). `pids()` lists the node's processes
(beam.smp, its children and our epmd), which is empty after stop() or kill().

Descriptors. The VM's soft RLIMIT_NOFILE is raised to the hard limit before exec (rabbit sizes
its file-handle cache from it); `nofile` says what it got.

This module does not import pytest or the tests' conftest, so bench scripts can load it by path,
with tests/integration on sys.path while it loads (it imports its sibling server_process.py).
"""
import json
import os
import secrets
import signal
import socket
import ssl
import struct
import subprocess
import time
import urllib.parse
from pathlib import Path

# free_port: also this module's, as before server_process.py.
from server_process import ServerProcess, find_binary, free_port  # noqa: F401

READY_LINE = "Server startup complete;"
LIB_BIN = "/usr/lib/rabbitmq/bin"
MEMORY_WATERMARK = "0.4"      # the config's vm_memory_high_watermark.relative
DISK_FREE_LIMIT = "50MB"      # the config's disk_free_limit.absolute


def find_rabbitmq_server():
    """Path of the rabbitmq-server script (LT_RABBITMQ_SERVER overrides), or None. Only the real
    script in /usr/lib/rabbitmq/bin will do: Debian's /usr/sbin/rabbitmq-server is a wrapper
    that runs it as the rabbitmq user (see the module's notes)."""
    return find_binary("LT_RABBITMQ_SERVER", "lt-no-such-program",
                       (f"{LIB_BIN}/rabbitmq-server",))


def find_epmd():
    return find_binary("LT_EPMD", "epmd", ("/usr/bin/epmd", "/usr/lib/erlang/bin/epmd"))


class RabbitMqError(RuntimeError):
    pass


# ---- processes ------------------------------------------------------------------------------

def _stat(pid):
    """(ppid, start time) of a process from /proc/PID/stat, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return int(fields[1]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid):
    """[(pid, start time)] of every live descendant of pid."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                parents.setdefault(st[0], []).append((int(entry), st[1]))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child[0])
    return out


def _alive(pid, start):
    """Whether process pid still runs and is the one that started at `start` (not a reused
    pid, not a zombie: those have an empty cmdline)."""
    try:
        return (_stat(pid) or (0, None))[1] == start and bool(
            Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return False


def _kill_remaining(procs, grace=2.0):
    """Waits up to `grace` seconds for the (pid, start time) processes to exit, then SIGKILLs
    those still there."""
    deadline = time.monotonic() + grace
    alive = procs
    while True:
        alive = [(p, t) for p, t in alive if _alive(p, t)]
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    for p, _ in alive:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---- a minimal AMQP 0-9-1 client, for probes and tests that need raw connections -------------

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT = 1, 2, 3, 8
FRAME_END = b"\xce"
# (class, method) ids used here.
CONNECTION_START, CONNECTION_START_OK = (10, 10), (10, 11)
CONNECTION_TUNE, CONNECTION_TUNE_OK = (10, 30), (10, 31)
CONNECTION_OPEN, CONNECTION_OPEN_OK = (10, 40), (10, 41)
CONNECTION_CLOSE, CONNECTION_CLOSE_OK = (10, 50), (10, 51)
CONNECTION_BLOCKED, CONNECTION_UNBLOCKED = (10, 60), (10, 61)
CHANNEL_OPEN, CHANNEL_OPEN_OK = (20, 10), (20, 11)
CONFIRM_SELECT, CONFIRM_SELECT_OK = (85, 10), (85, 11)
BASIC_PUBLISH, BASIC_ACK = (60, 40), (60, 80)


def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return bytes([len(b)]) + b


def longstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


def table(fields):
    """A field table of str (S), bool (t) and dict (F, nested) values."""
    out = b""
    for key, value in fields.items():
        if isinstance(value, bool):
            out += shortstr(key) + b"t" + bytes([value])
        elif isinstance(value, dict):
            out += shortstr(key) + b"F" + table(value)
        else:
            out += shortstr(key) + b"S" + longstr(str(value))
    return longstr(out)


def frame(kind, channel, payload):
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + FRAME_END


def method_frame(channel, ids, args=b""):
    return frame(FRAME_METHOD, channel, struct.pack(">HH", *ids) + args)


def parse_close(args):
    """(reply code, reply text) of a Connection.Close's or Channel.Close's arguments."""
    code, n = struct.unpack(">HB", args[:3])
    return code, args[3:3 + n].decode(errors="replace")


class AmqpClosed(RabbitMqError):
    """The broker closed the connection: `code` and `text` from its Connection.Close (None if
    it just closed the socket)."""

    def __init__(self, code, text):
        super().__init__(f"connection closed: {code} {text}")
        self.code, self.text = code, text


class Client:
    """One AMQP 0-9-1 connection on a blocking socket, speaking just enough of the protocol for
    tests: the handshake (PLAIN; capabilities connection.blocked and
    authentication_failure_close), one channel, basic.publish (optionally with publisher
    confirms), and reading method frames (`methods` keeps every one read, as (ids, args)).
    The constructor connects and opens channel 1; a refused login or vhost raises AmqpClosed
    with the broker's code (403 ACCESS_REFUSED, 530 NOT_ALLOWED). Not fast: for a few thousand
    messages."""

    def __init__(self, port, user="guest", password="guest", vhost="/", host="127.0.0.1",
                 tls=False, ca_file=None, confirm=False, timeout=5.0):
        self.methods = []
        self._buf = b""
        self._next_tag = 1
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            sock = context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        try:
            self._handshake(user, password, vhost)
            self.send(method_frame(1, CHANNEL_OPEN, shortstr("")))
            self.expect(CHANNEL_OPEN_OK)
            if confirm:
                self.send(method_frame(1, CONFIRM_SELECT, b"\x00"))
                self.expect(CONFIRM_SELECT_OK)
        except BaseException:
            sock.close()
            raise

    def _handshake(self, user, password, vhost):
        self.send(PROTOCOL_HEADER)
        self.server_properties = self.expect(CONNECTION_START)
        client_properties = {"product": "load-tester test client", "capabilities": {
            "connection.blocked": True, "authentication_failure_close": True,
            "publisher_confirms": True}}
        self.send(method_frame(0, CONNECTION_START_OK, table(client_properties)
                               + shortstr("PLAIN") + longstr(f"\0{user}\0{password}")
                               + shortstr("en_US")))
        channel_max, frame_max, _ = struct.unpack(">HIH", self.expect(CONNECTION_TUNE)[:8])
        self.frame_max = frame_max
        # heartbeat 0: none, so a test that sleeps is never cut off.
        self.send(method_frame(0, CONNECTION_TUNE_OK, struct.pack(">HIH", channel_max,
                                                                  frame_max, 0)))
        self.send(method_frame(0, CONNECTION_OPEN, shortstr(vhost) + shortstr("") + b"\x00"))
        self.expect(CONNECTION_OPEN_OK)

    def send(self, data):
        self.sock.sendall(data)

    def _read_exact(self, n):
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AmqpClosed(None, f"socket closed (after {len(self.methods)} methods)")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def read_method(self, timeout=None):
        """The next method frame as ((class, method), args); content and heartbeat frames are
        skipped. A Connection.Close is answered (Close-Ok) and raised as AmqpClosed.
        socket.timeout if nothing comes within timeout (default: the constructor's)."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        while True:
            kind, _, size = struct.unpack(">BHI", self._read_exact(7))
            payload = self._read_exact(size + 1)[:-1]
            if kind != FRAME_METHOD:
                continue
            ids, args = struct.unpack(">HH", payload[:4]), payload[4:]
            self.methods.append((ids, args))
            if ids == CONNECTION_CLOSE:
                try:
                    self.send(method_frame(0, CONNECTION_CLOSE_OK))
                except OSError:
                    pass
                raise AmqpClosed(*parse_close(args))
            return ids, args

    def expect(self, ids, timeout=None):
        """Reads method frames until one with ids comes; returns its arguments."""
        while True:
            got, args = self.read_method(timeout)
            if got == ids:
                return args

    def publish(self, routing_key, body=b"x", exchange="", persistent=False):
        """basic.publish on channel 1 (default exchange: routing_key is the queue). With
        confirm=True returns the delivery tag to wait_confirm() for."""
        body = body.encode() if isinstance(body, str) else body
        flags, props = (0x1000, b"\x02") if persistent else (0, b"")  # delivery-mode 2
        header = struct.pack(">HHQH", 60, 0, len(body), flags) + props
        data = (method_frame(1, BASIC_PUBLISH, struct.pack(">H", 0) + shortstr(exchange)
                             + shortstr(routing_key) + b"\x00")
                + frame(FRAME_HEADER, 1, header))
        for i in range(0, len(body), self.frame_max - 8):
            data += frame(FRAME_BODY, 1, body[i:i + self.frame_max - 8])
        self.send(data)
        tag, self._next_tag = self._next_tag, self._next_tag + 1
        return tag

    def wait_confirm(self, tag, timeout=None):
        """Reads until a basic.ack covers delivery tag `tag`."""
        while True:
            got, args = self.read_method(timeout)
            if got == BASIC_ACK:
                acked, multiple = struct.unpack(">QB", args[:9])
                if acked == tag or (multiple and acked >= tag):
                    return

    def close(self):
        """Connection.Close and wait for Close-Ok (briefly), then the socket."""
        try:
            self.send(method_frame(0, CONNECTION_CLOSE, struct.pack(">H", 200) + shortstr("bye")
                                   + struct.pack(">HH", 0, 0)))
            self.expect(CONNECTION_CLOSE_OK, timeout=2)
        except (OSError, RabbitMqError):
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- the broker -----------------------------------------------------------------------------

class RabbitMq(ServerProcess):
    """A RabbitMQ node on free 127.0.0.1 ports: `port` (AMQP), `tls_port` (tls=True),
    `dist_port` (Erlang distribution), `epmd_port` (our own epmd). auth="user": a user with a
    password file besides guest. extra: rabbitmq.conf text added at the end. Starts at once
    unless start=False; stop() (or leaving a with block) ends it: SIGTERM, then the leftovers
    and our epmd. The life cycle (start, restart, stop, kill, log, running, nofile) is otherwise
    server_process.ServerProcess's; see the module's notes for what was measured."""

    name = "rabbitmq-server"
    env = "LT_RABBITMQ_SERVER"
    dir_prefix = "rabbitmq"
    conf_name, log_name = "rabbitmq.conf", "rabbitmq.log"
    error = RabbitMqError
    stop_signal = signal.SIGTERM
    poll_interval = 0.05

    def __init__(self, tmp, tls=False, auth=None, extra="", start=True, start_timeout=60.0):
        if auth not in (None, "user"):
            raise ValueError(f"auth must be None or 'user', not {auth!r}")
        super().__init__(tmp, find_rabbitmq_server(), tls, start_timeout)
        self.epmd = find_epmd()
        if not self.epmd:
            raise RabbitMqError("epmd not found (it comes with erlang-base)")
        self.ctl_binary = str(Path(self.binary).with_name("rabbitmqctl"))
        self.auth = auth
        self.extra = extra
        self.node = f"lt-{os.getpid()}-{time.monotonic_ns()}@localhost"
        self.home = self.dir / "home"
        self.mnesia_base = self.dir / "mnesia"
        self.mnesia_dir = self.mnesia_base / self.node
        self._write_static_files()
        self.username = self.password = self.password_file = None
        if auth == "user":
            self.username = "lt-user"
            self.password = "lt-" + secrets.token_hex(8)
            self.password_file = self.dir / "password"
            self.password_file.write_text(self.password)
        self._user_created = False
        self.epmd_proc = None
        self._children = []
        self.port = self.tls_port = self.dist_port = self.epmd_port = None
        if start:
            self.start()

    # ---- config, and what the life cycle needs ---------------------------------------------

    def _write_static_files(self):
        self.home.mkdir()
        cookie = self.home / ".erlang.cookie"
        cookie.write_text("LT" + secrets.token_hex(16).upper())
        cookie.chmod(0o400)  # Erlang refuses a cookie others can read
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "rabbitmq-env.conf").write_text("# empty: not /etc/rabbitmq's\n")

    # Variables the node and rabbitmqctl must not inherit from our environment.
    _unset = ("RABBITMQ_NODE_PORT", "RABBITMQ_NODE_IP_ADDRESS", "RABBITMQ_USE_LONGNAME",
              "RABBITMQ_SERVER_START_ARGS", "RABBITMQ_CTL_ERL_ARGS", "ERL_EPMD_ADDRESS",
              "NOTIFY_SOCKET", "ERL_FLAGS", "ERL_AFLAGS", "ERL_ZFLAGS")

    def _variables(self):
        """What the harness sets for the node and rabbitmqctl (see the module's notes)."""
        d = self.dir
        return {
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.conf),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),  # never written
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(d / "plugins-expand"),
            "RABBITMQ_MNESIA_BASE": str(self.mnesia_base),
            "RABBITMQ_MNESIA_DIR": str(self.mnesia_dir),
            "RABBITMQ_LOG_BASE": str(d),
            "RABBITMQ_LOGS": str(self.log_file),
            "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_CRASH_DUMP": str(d / "erl_crash.dump"),
            # exec the VM (proc is beam.smp); put back what that path leaves out.
            "RABBITMQ_ALLOW_INPUT": "true",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-noinput +B i -kernel inet_dist_use_interface {127,0,0,1}",
        }

    def environment(self):
        """The whole environment of the node and of rabbitmqctl: ours, less _unset, plus
        _variables()."""
        env = {k: v for k, v in os.environ.items() if k not in self._unset}
        env.update(self._variables())
        return env

    def _config(self):
        lines = [
            "# generated by tests/integration/rabbitmq.py",
            f"listeners.tcp.default = 127.0.0.1:{self.port}",
            "loopback_users = none",
            f"vm_memory_high_watermark.relative = {MEMORY_WATERMARK}",
            f"disk_free_limit.absolute = {DISK_FREE_LIMIT}",
            "log.console = false",
            "log.file.level = info",
        ]
        if self.tls:
            lines += [
                f"listeners.ssl.default = 127.0.0.1:{self.tls_port}",
                f"ssl_options.cacertfile = {self.ca_file}",
                f"ssl_options.certfile = {self.cert_file}",
                f"ssl_options.keyfile = {self.key_file}",
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
            ]
        return "\n".join(lines) + f"\n{self.extra}\n"

    def _port_names(self):
        return ("port", "dist_port", "epmd_port") + (("tls_port",) if self.tls else ())

    def _prepare(self):
        self.conf.write_text(self._config())
        self._start_epmd()

    def _command(self):
        # `env` execs the script, which execs erl: proc ends up being beam.smp itself.
        unset = [a for name in self._unset for a in ("-u", name)]
        return ["env", *unset, *(f"{k}={v}" for k, v in self._variables().items()),
                self.binary]

    def _is_ready_line(self, line):
        # "2022-... [info] <0.653.0> Server startup complete; 0 plugins started."
        return f"> {READY_LINE} " in line

    def _not_ready(self):
        return f"no {READY_LINE!r} line in its log"

    def _start_epmd(self):
        """Our own epmd in the foreground on epmd_port (see the module's notes); waits until
        it listens."""
        if self.epmd_proc is not None and self.epmd_proc.poll() is None:
            return
        with open(self.dir / "epmd.log", "a") as out:
            self.epmd_proc = subprocess.Popen(
                [self.epmd, "-address", "127.0.0.1", "-port", str(self.epmd_port)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.epmd_proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.epmd_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.01)
        raise RabbitMqError(f"epmd did not start on port {self.epmd_port}: "
                            f"{(self.dir / 'epmd.log').read_text()}")

    def _stop_epmd(self):
        if self.epmd_proc is not None and self.epmd_proc.poll() is None:
            self.epmd_proc.terminate()
            try:
                self.epmd_proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.epmd_proc.kill()
                self.epmd_proc.wait(timeout=5)

    # ---- life cycle: the base class's, plus the VM's children and epmd ----------------------

    def start(self):
        super().start()
        if self.auth == "user" and not self._user_created:
            self.add_user(self.username, self.password)
            self.set_permissions("/", self.username)
            self._user_created = True
        return self

    def _launch(self):
        try:
            return super()._launch()
        except RabbitMqError:
            self._stop_epmd()
            raise

    def _note_children(self):
        if self.running:
            self._children = descendants(self.proc.pid)

    def _cleanup(self):
        """After the VM exited: its children that are still there, then epmd."""
        _kill_remaining(self._children)
        self._children = []
        self._stop_epmd()

    def kill(self):
        """SIGKILL to the VM, a node dying mid-run; then its children and our epmd."""
        self._note_children()
        super().kill()
        self._cleanup()

    def stop(self, timeout=15.0):
        """SIGTERM (a clean shutdown: 2-3 s), SIGKILL after timeout; then the leftovers and
        epmd. Returns the VM's exit status (0), None if it had to be killed."""
        self._note_children()
        status = super().stop(timeout)
        self._cleanup()
        return status

    def pids(self):
        """The pids of the node's processes still alive: the VM, its descendants, our epmd."""
        out = []
        if self.running:
            out += [self.proc.pid] + [p for p, _ in descendants(self.proc.pid)]
        out += [p for p, t in self._children if _alive(p, t)]
        if self.epmd_proc is not None and self.epmd_proc.poll() is None:
            out.append(self.epmd_proc.pid)
        return sorted(set(out))

    # ---- addresses -------------------------------------------------------------------------

    def url(self, user="guest", password="guest", vhost="/", host="127.0.0.1"):
        return self._url("amqp", self.port, user, password, vhost, host)

    def tls_url(self, user="guest", password="guest", vhost="/", host="127.0.0.1"):
        if not self.tls:
            raise RabbitMqError("started without tls=True")
        return self._url("amqps", self.tls_port, user, password, vhost, host)

    @staticmethod
    def _url(scheme, port, user, password, vhost, host):
        q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731  ("/" is %2F)
        return f"{scheme}://{q(user)}:{q(password)}@{host}:{port}/{q(vhost)}"

    # ---- rabbitmqctl -----------------------------------------------------------------------

    def ctl(self, *args, check=True, timeout=60):
        """rabbitmqctl -n NODE -q ARGS with environment(); returns stdout (0.4-0.7 s a call).
        Raises RabbitMqError on a non-zero exit (unless check=False) and while the node is
        down (rabbitmqctl would start a detached epmd of its own)."""
        if not self.running:
            raise RabbitMqError(f"rabbitmqctl {' '.join(args)}: the node is not running")
        proc = subprocess.run([self.ctl_binary, "-n", self.node, "-q", *map(str, args)],
                              env=self.environment(), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise RabbitMqError(f"rabbitmqctl {' '.join(map(str, args))} exited "
                                f"{proc.returncode}: {proc.stdout}{proc.stderr}")
        return proc.stdout

    def eval(self, expression):
        """An Erlang expression evaluated on the node (rabbitmqctl eval); its printed value."""
        return self.ctl("eval", expression).strip()

    def add_user(self, name, password):
        self.ctl("add_user", name, password)

    def add_vhost(self, name, grant_guest=True):
        """A vhost; guest gets full permissions on it too unless grant_guest=False (so
        declare_queue() works there)."""
        self.ctl("add_vhost", name)
        if grant_guest:
            self.set_permissions(name, "guest")

    def set_permissions(self, vhost, user, conf=".*", write=".*", read=".*"):
        self.ctl("set_permissions", "-p", vhost, user, conf, write, read)

    def queues(self, vhost="/"):
        """{queue name: messages (ready + unacknowledged)} of a vhost."""
        rows = json.loads(self.ctl("list_queues", "-p", vhost, "name", "messages",
                                   "--formatter", "json") or "[]")
        return {row["name"]: row["messages"] for row in rows}

    def wait_queue(self, name, predicate, timeout=10.0, vhost="/", interval=0.1):
        """Reads queues() until predicate(messages of `name`) holds (None while the queue does
        not exist); returns that value. Raises RabbitMqError with the last value after
        timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.queues(vhost).get(name)
            if predicate(value):
                return value
            if time.monotonic() >= deadline:
                raise RabbitMqError(f"queue {name!r} still has {value!r} messages after "
                                    f"{timeout}s")
            time.sleep(interval)

    def delete_queue(self, name, vhost="/"):
        self.ctl("delete_queue", "-p", vhost, name)

    def purge_queue(self, name, vhost="/"):
        self.ctl("purge_queue", "-p", vhost, name)

    def connections(self, *items):
        """The open AMQP connections: their number, or with items (e.g. "user", "state") a
        list of {item: value}."""
        rows = json.loads(self.ctl("list_connections", *(items or ("pid",)),
                                   "--formatter", "json") or "[]")
        return rows if items else len(rows)

    def declare_queue(self, name, vhost="/", durable=True, user="guest", password="guest"):
        """A queue, declared with amqp-declare-queue over AMQP (about 10 ms; guest needs
        permissions on vhost, which add_vhost gives). Idempotent for the same durability."""
        proc = subprocess.run(["amqp-declare-queue", "--url", self.url(user, password, vhost),
                               "-q", name, *(["-d"] if durable else [])],
                              capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise RabbitMqError(f"amqp-declare-queue {name!r} on {vhost!r}: {proc.stderr}")

    # ---- alarms ----------------------------------------------------------------------------

    def block(self, disk=False):
        """Sets a resource alarm at run time, so publishers get connection.blocked: memory
        (watermark 1 byte) or, with disk=True, disk (free limit 1000000GB)."""
        if disk:
            self.ctl("set_disk_free_limit", "1000000GB")
        else:
            self.ctl("set_vm_memory_high_watermark", "absolute", "1")

    def unblock(self, disk=False, memory=MEMORY_WATERMARK, free=DISK_FREE_LIMIT):
        """Clears what block() set, back to the config's values (or memory= / free=)."""
        if disk:
            self.ctl("set_disk_free_limit", free)
        else:
            self.ctl("set_vm_memory_high_watermark", memory)

    def alarms(self):
        """The resources ("memory", "disk") the node has an alarm for now."""
        text = self.eval("[R || {{resource_limit, R, _}, _} <- rabbit_alarm:get_alarms()].")
        return [r.strip() for r in text.strip("[]").split(",") if r.strip()]
