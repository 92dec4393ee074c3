"""A private nginx on free loopback ports, for the HTTP sink's tests and bench/http_vs_wrk.py.

    with Nginx(tmp, tls=True) as server:
        server.url("/")          # http://127.0.0.1:PORT/
        server.tls_url("/")      # https://127.0.0.1:TLS_PORT/, certificate signed by server.ca_file
        ...
        server.requests()        # requests nginx has seen, not counting our own status reads
        server.access_count()    # access-log lines, not counting /nginx_status

Everything lives in a fresh directory under `tmp`: the config, the pid file, both logs, the
temp paths and (tls=True) a CA and a server certificate made with the openssl CLI
(server_process.make_certificates, also importable from here). nginx runs in the foreground
(daemon off) as our child, with a master and `workers` worker processes. It never touches
/etc/nginx, /var/log/nginx or port 80. The life cycle (the directory, free ports, start and its
retries, stop, restart, log()) is server_process.py's ServerProcess, described there, except
that nginx is ready once each port accepts a connection and a worker has answered a status
read (those connections are counted: see accepted()), that its descriptor limit is not raised
(worker_rlimit_nofile does that for the workers), and that kill() ends the workers too.

Locations served (all on both listeners):
    /                   200 "ok\\n" for any path not below, any method
    = /post             POST only (other methods 405): 200 "posted\\n"
    A request body is answered at once, then read and discarded by nginx before it parses the
    next request on the connection: a body shorter or longer than its Content-Length shows as
    a stalled or garbled (400) next request. The log has the Content-Length the client claimed
    (content_length, None without one); request_length counts only what nginx had read when
    it logged (request line, headers, and whatever of the body came with them).
    = /status/204, /status/404, /status/500, /status/503   that status
    = /close            200 "ok\\n" with Connection: close (keepalive_timeout 0)
    = /nginx_status     stub_status; not written to the access log

Counting. `requests()` reads stub_status's "requests" field (every request nginx has read the
head of, on every listener, in every worker: the counter is in shared memory). Each status read
is itself a request, counted before its response is made, so requests() subtracts the number of
status reads this object has made, including the current one. Status reads from elsewhere (not
through this object) would be counted. The counter is bumped when nginx reads a request, so a
request the client has sent but nginx has not yet read is not in it.

`access_count()` counts access-log lines other than /nginx_status ones. The log has no buffer=,
so nginx write()s each line as its request finishes, after the response went out: a client can
see its response a moment before the line is there. Pass at_least=N to wait (up to timeout) for
N lines. `access_log_entries()` gives the parsed lines (method, uri, status, content_length,
connection serial and the request's number on its connection, scheme).

This module does not import pytest or the tests' conftest, so bench scripts can load it by path.
It imports its sibling server_process.py, by path if this directory is not on sys.path.
"""
import os
import re
import resource
import signal
import socket
import time
import urllib.request
from pathlib import Path

try:
    # free_port and make_certificates: also this module's, as before server_process.py.
    from server_process import ServerProcess, find_binary, free_port, make_certificates
except ModuleNotFoundError as missing:
    # Loaded by path alone (bench/http_vs_wrk.py), without this directory on sys.path: load
    # the sibling by path too.
    if missing.name != "server_process":
        raise
    import importlib.util
    _spec = importlib.util.spec_from_file_location(
        "lt_server_process", Path(__file__).resolve().with_name("server_process.py"))
    _server_process = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_server_process)
    ServerProcess, find_binary, free_port, make_certificates = (
        _server_process.ServerProcess, _server_process.find_binary, _server_process.free_port,
        _server_process.make_certificates)

LOG_FORMAT = ("$msec $scheme $request_method $request_uri $status $content_length "
              "$request_length $body_bytes_sent $connection $connection_requests")
LOG_FIELDS = ("time", "scheme", "method", "uri", "status", "content_length", "request_length",
              "body_bytes", "connection", "connection_requests")
STATUS_PATH = "/nginx_status"
TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def find_nginx():
    """Path of the nginx binary (LT_NGINX overrides), or None. /usr/sbin is often not on a
    non-root PATH."""
    return find_binary("LT_NGINX", "nginx", ("/usr/sbin/nginx", "/usr/local/sbin/nginx"))


class NginxError(RuntimeError):
    pass


class Nginx(ServerProcess):
    """nginx on a free 127.0.0.1 port (and, tls=True, an ssl listener on another one).

    workers: worker_processes. worker_connections: per worker (the soft descriptor limit is
    raised to fit). extra_server / extra_http: config text added inside the server / http block.
    Starts at once unless start=False; stop() (or leaving a with block) ends it gracefully:
    SIGQUIT, on which nginx finishes the requests in flight and closes idle keep-alive
    connections. The life cycle is server_process.ServerProcess's, but for the ready check (a
    connection to each port and a status read) and kill() (the workers too)."""

    name = "nginx"
    env = "LT_NGINX"
    dir_prefix = "nginx"
    conf_name, log_name = "nginx.conf", "error.log"  # log_file is error_log
    error = NginxError
    stop_signal = signal.SIGQUIT
    raise_nofile = False  # worker_rlimit_nofile raises the workers' limit
    poll_interval = 0.02
    no_log = "(no error log)"

    def __init__(self, tmp, tls=False, workers=1, worker_connections=4096, extra_server="",
                 extra_http="", start=True, start_timeout=10.0):
        super().__init__(tmp, find_nginx(), tls, start_timeout)
        self.workers = workers
        self.worker_connections = worker_connections
        self.extra_server = extra_server
        self.extra_http = extra_http
        self.error_log = self.log_file
        self.access_log = self.dir / "access.log"
        self.pid_file = self.dir / "nginx.pid"
        self.port = self.tls_port = None
        self._status_reads = 0
        self._probes = 0  # connections made to see whether nginx is up
        if start:
            self.start()

    # ---- config and life cycle -------------------------------------------------------------

    def _config(self):
        d = self.dir
        temp = "\n".join(f"    {kind}_temp_path {d / 'temp' / kind};" for kind in TEMP_KINDS)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        want = 2 * self.worker_connections + 64
        nofile = want if hard == resource.RLIM_INFINITY else min(want, hard)
        # As root the master would start its workers as `nobody`, which cannot enter a 0700
        # temp dir owned by root (TemporaryDirectory's mode): keep them root.
        user = "user root;" if os.geteuid() == 0 else ""
        tls_listen = tls_certs = ""
        if self.tls:
            tls_listen = f"        listen 127.0.0.1:{self.tls_port} ssl backlog=4096;"
            tls_certs = (f"        ssl_certificate {self.cert_file};\n"
                         f"        ssl_certificate_key {self.key_file};\n"
                         f"        ssl_session_cache shared:lt_ssl:1m;")
        return f"""# generated by tests/integration/nginx.py
{user}
daemon off;
master_process on;
worker_processes {self.workers};
worker_rlimit_nofile {nofile};
pid {self.pid_file};
error_log {self.error_log} notice;

events {{
    worker_connections {self.worker_connections};
}}

http {{
{temp}
    log_format lt '{LOG_FORMAT}';
    access_log {self.access_log} lt;
    default_type text/plain;
    server_tokens off;
    # nginx closes a keep-alive connection after keepalive_requests (1.22 default: 1000)
    # requests, or after keepalive_time (default 1h), or idle keepalive_timeout (default 75s).
    keepalive_requests 1000000000;
    keepalive_time 1d;
    keepalive_timeout 1h;
    client_max_body_size 64m;
{self.extra_http}
    server {{
        listen 127.0.0.1:{self.port} backlog=4096;
{tls_listen}
{tls_certs}
        location / {{
            return 200 "ok\\n";
        }}
        location = /post {{
            if ($request_method != POST) {{ return 405; }}
            return 200 "posted\\n";
        }}
        location = /status/204 {{ return 204; }}
        location = /status/404 {{ return 404 "not found\\n"; }}
        location = /status/500 {{ return 500 "error\\n"; }}
        location = /status/503 {{ return 503 "unavailable\\n"; }}
        location = /close {{
            keepalive_timeout 0;
            return 200 "ok\\n";
        }}
        location = {STATUS_PATH} {{
            stub_status;
            access_log off;
        }}
{self.extra_server}
    }}
}}
"""

    def _port_names(self):
        return ("port", "tls_port") if self.tls else ("port",)

    def _prepare(self):
        self.conf.write_text(self._config())
        for kind in TEMP_KINDS:
            (self.dir / "temp" / kind).mkdir(parents=True, exist_ok=True)
        self._status_reads = self._probes = 0

    def _command(self):
        # -e: the error log before the config is read (Debian's default is stderr);
        # -p: prefix for any relative path, so nothing falls back to /usr/share/nginx.
        return [self.binary, "-p", str(self.dir) + "/", "-c", str(self.conf), "-e",
                str(self.error_log)]

    def _ready_mark(self):
        return None  # nginx is asked, not its log

    def _ready(self, mark):
        if not all(self._answers(p) for p in self.ports()):
            return False
        # Listening sockets exist once the master has bound them; wait for a worker to serve
        # a request too.
        try:
            self.status()
            return True
        except OSError:
            return False

    def _not_ready(self):
        return f"ports {self.ports()} not answering"

    def worker_pids(self):
        """The master's children (its workers), from /proc."""
        if self.proc is None:
            return []
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def kill(self):
        """SIGKILL to the master, as a crash, and to its workers: those of a killed master
        would live on (no parent-death signal), so they are ended by pid."""
        workers = self.worker_pids() if self.running else []
        super().kill()
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # ---- addresses -------------------------------------------------------------------------

    def url(self, path="/", host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def tls_url(self, path="/", host="127.0.0.1"):
        if not self.tls:
            raise NginxError("started without tls=True")
        return f"https://{host}:{self.tls_port}{path}"

    # ---- counts ----------------------------------------------------------------------------

    def status(self):
        """stub_status as a dict: active, accepts, handled, requests, reading, writing,
        waiting (raw: this read and earlier ones are included)."""
        self._status_reads += 1
        with urllib.request.urlopen(self.url(STATUS_PATH), timeout=5) as reply:
            text = reply.read().decode()
        numbers = [int(n) for n in re.findall(r"\d+", text)]
        if len(numbers) != 7:
            raise NginxError(f"unexpected stub_status output: {text!r}")
        return dict(zip(("active", "accepts", "handled", "requests", "reading", "writing",
                         "waiting"), numbers))

    def requests(self):
        """Requests nginx has read, less every status read this object made (each is one
        request on one connection of its own: urllib sends Connection: close)."""
        s = self.status()
        return s["requests"] - self._status_reads

    def accepted(self):
        """Connections nginx has accepted, less those of this object's status reads and of its
        start-up probes."""
        s = self.status()
        return s["accepts"] - self._status_reads - self._probes

    def _answers(self, port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                # Accepted by nginx sooner or later, even if closed before a worker runs.
                self._probes += 1
                return True
        except OSError:
            return False

    def access_log_entries(self):
        """Parsed access-log lines (not /nginx_status) as dicts of LOG_FIELDS; numbers are
        ints, time a float."""
        if not self.access_log.exists():
            return []
        entries = []
        for line in self.access_log.read_text().splitlines():
            parts = line.split(" ")
            if len(parts) != len(LOG_FIELDS):
                continue  # a line being written right now
            e = dict(zip(LOG_FIELDS, parts))
            if e["uri"].split("?")[0] == STATUS_PATH:
                continue
            e["time"] = float(e["time"])
            e["content_length"] = None if e["content_length"] == "-" else int(e["content_length"])
            for k in ("status", "request_length", "body_bytes", "connection",
                      "connection_requests"):
                e[k] = int(e[k])
            entries.append(e)
        return entries

    def access_count(self, at_least=None, timeout=5.0):
        """Number of access-log lines (not /nginx_status). With at_least, waits up to timeout
        for that many: lines are written just after their response is sent."""
        deadline = time.monotonic() + timeout
        while True:
            n = len(self.access_log_entries())
            if at_least is None or n >= at_least or time.monotonic() >= deadline:
                return n
            time.sleep(0.01)

