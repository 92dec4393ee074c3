"""What the test harnesses' servers (nats.py's NatsServer, mosquitto.py's Mosquitto, nginx.py's
Nginx) share: a server program run as our child on free loopback ports, and its life cycle.

    class Thing(ServerProcess):
        name, env, dir_prefix = "thing", "LT_THING", "thing"   # messages, binary, directory
        conf_name, log_name = "thing.conf", "thing.log"         # files in the directory
        error = ThingError                                      # what start() raises
        stop_signal = signal.SIGTERM                            # stop()'s signal
        def _port_names(self): ...      # the attributes start() sets to free ports
        def _prepare(self): ...         # writes self.conf for those ports
        def _command(self): ...         # the argv
        def _is_ready_line(self, line): ...   # or _ready_mark() and _ready(mark)

Directory. Everything lives in a fresh directory under `tmp` (`dir`, named DIR_PREFIX-PID-NS):
the config (`conf`, CONF_NAME), the server's own log (`log_file`, LOG_NAME), its stdout+stderr
(`stderr_path`, appended to: start-up and config errors go there before the log is open) and,
with tls=True, a CA and a server certificate from make_certificates() (`ca_file`, `ca_key`,
`cert_file`, `key_file`; otherwise None). The server runs in the foreground as our child
(`proc`); each subclass's config keeps it away from the system's config, logs and default
ports.

Ports. start() picks free 127.0.0.1 ports (different ones) for the attributes _port_names()
names; `ports()` lists them. Another process can take a port between our picking and the
server's binding: a start whose log (or stderr) then says "address already in use" is retried
on new ports, twice.

Ready. By default the server is ready once its log has one more ready line (_is_ready_line)
than it had before the launch (the log is appended to across restarts): the harness makes no
connection to find out, so none shows in the server's counters or connection limits. A subclass
can check something else instead (_ready_mark and _ready). A server that exits, or is not
ready within `start_timeout` seconds, is killed, and `error` is raised with the config's path
and log().

Descriptors. Unless raise_nofile is False, the child's soft RLIMIT_NOFILE is raised to the hard
limit before exec, so thousands of clients fit wherever the hard limit allows; `nofile` is the
soft limit the started process has (read from /proc/PID/limits; None before the first start).

Life cycle. `running`: the process has not exited. stop(timeout): stop_signal, then SIGKILL if
it has not exited within timeout; returns the exit status (None if it had to be killed). kill():
SIGKILL, a server dying mid-run (clients see their connections reset or closed). restart():
stop() (kill() first for a crash) and launch again on the same ports, with fresh state and
counters. log(): log_file and stderr_path as one text. A with block stop()s at its end.

Loading. Like the harnesses, this module does not import pytest or the tests' conftest. They
import it as a sibling (`from server_process import ...`), so tests/integration must be on
sys.path while one of them loads: pytest puts it there, and bench/broker_cost.py does while it
loads nats.py or mosquitto.py by path. nginx.py, which bench/http_vs_wrk.py loads by path
alone, falls back to loading this file by path.
"""
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def find_binary(env, name, candidates):
    """Path of a server binary, or None: $env if set (None if it is not executable), else
    `name` on PATH, else the first executable of candidates (Debian puts servers in
    /usr/sbin, which is often not on a non-root PATH)."""
    explicit = os.environ.get(env)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which(name) or next((p for p in candidates if os.access(p, os.X_OK)), None)


def free_port():
    """A TCP port of 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n):
    """n different free ports."""
    ports = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


def raise_nofile():
    """preexec_fn: soft RLIMIT_NOFILE up to the hard limit (async-signal-safe enough: no
    allocation beyond the call itself)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def soft_nofile(pid):
    """The soft RLIMIT_NOFILE of process pid, from /proc/PID/limits (None if unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


def read_logs(paths, empty="(no log)"):
    """The non-empty files of paths as one text, each under a "--- NAME:" line; `empty` if
    there are none."""
    parts = []
    for path in paths:
        if path.exists() and path.read_text(errors="replace").strip():
            parts.append(f"--- {path.name}:\n{path.read_text(errors='replace')}")
    return "\n".join(parts) or empty


def _openssl(*args, cwd):
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {proc.stderr}")


def make_certificates(directory, days=30):
    """A CA (ca.key, ca.crt) and a server certificate it signed (server.key, server.crt) for
    IP 127.0.0.1 and DNS localhost, with P-256 keys (fast to make), made with the openssl CLI.
    Returns the four paths (ca.crt, ca.key, server.crt, server.key). Our own openssl config so
    the system one's defaults do not matter."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "openssl.cnf").write_text(
        "[req]\n"
        "distinguished_name = dn\n"
        "prompt = no\n"
        "[dn]\n"
        "CN = load-tester test CA\n"
        "[ca_ext]\n"
        "basicConstraints = critical, CA:TRUE\n"
        "keyUsage = critical, keyCertSign, cRLSign\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid:always\n"
        "[server_ext]\n"
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid, issuer\n")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-config", "openssl.cnf", "-x509", *key, "-keyout", "ca.key", "-out",
             "ca.crt", "-days", str(days), "-extensions", "ca_ext", cwd=d)
    _openssl("req", "-config", "openssl.cnf", "-new", *key, "-keyout", "server.key", "-out",
             "server.csr", "-subj", "/CN=localhost", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", str(days), "-extfile",
             "openssl.cnf", "-extensions", "server_ext", cwd=d)
    return d / "ca.crt", d / "ca.key", d / "server.crt", d / "server.key"


class ServerProcess:
    """A server program as our child, on free 127.0.0.1 ports (see the module's notes).

    Subclasses set the class attributes below and give _port_names(), _prepare(), _command()
    and either _is_ready_line() or _ready_mark()/_ready(); their __init__ calls this one first
    (which raises `error` if the binary was not found, and makes `dir`), sets their own
    attributes, then calls start() unless told not to."""

    name = "server"            # the program, in messages
    env = None                 # the environment variable that names the binary
    dir_prefix = "server"      # the directory's name starts with it
    conf_name = "server.conf"  # `conf`, in the directory
    log_name = "server.log"    # `log_file`, the server's own log, in the directory
    error = RuntimeError       # what start() raises (and __init__, for a missing binary)
    stop_signal = signal.SIGTERM
    raise_nofile = True        # raise the child's soft RLIMIT_NOFILE to the hard limit
    poll_interval = 0.01       # seconds between ready checks
    no_log = "(no log)"        # log() when there is none

    def __init__(self, tmp, binary, tls=False, start_timeout=10.0):
        self.binary = binary
        if not binary:
            raise self.error(f"{self.name} not found (install it with "
                             f"scripts/install-deps.sh, or set {self.env})")
        self.tls = tls
        self.start_timeout = start_timeout
        self.dir = Path(tmp) / f"{self.dir_prefix}-{os.getpid()}-{time.monotonic_ns()}"
        self.dir.mkdir(parents=True)
        self.conf = self.dir / self.conf_name
        self.log_file = self.dir / self.log_name
        self.stderr_path = self.dir / "stderr.log"
        self.ca_file = self.ca_key = self.cert_file = self.key_file = None
        if tls:
            self.ca_file, self.ca_key, self.cert_file, self.key_file = make_certificates(
                self.dir / "tls")
        self.proc = None
        self.nofile = None  # the server's soft RLIMIT_NOFILE once started

    # ---- what subclasses give --------------------------------------------------------------

    def _port_names(self):
        """The attributes that hold the server's ports (those it uses in this configuration)."""
        raise NotImplementedError

    def _prepare(self):
        """Before each launch: writes the config for the current ports."""
        raise NotImplementedError

    def _command(self):
        raise NotImplementedError

    def _is_ready_line(self, line):
        """A line of log_file that the server writes once it is ready."""
        raise NotImplementedError

    def _not_ready(self):
        """What was missing when start_timeout ran out (followed by " after Ns")."""
        return "no ready line in its log"

    # ---- ready -----------------------------------------------------------------------------

    def _ready_lines(self):
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for line in text.splitlines() if self._is_ready_line(line))

    def _ready_mark(self):
        """Taken just before a launch; _ready(mark) then says whether the server is ready."""
        return self._ready_lines()

    def _ready(self, mark):
        return self._ready_lines() > mark

    def _wait_ready(self, mark):
        """None once ready, else what went wrong."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with status {self.proc.returncode}"
            if self._ready(mark):
                return None
            time.sleep(self.poll_interval)
        return f"{self._not_ready()} after {self.start_timeout}s"

    # ---- life cycle ------------------------------------------------------------------------

    def ports(self):
        return [p for p in (getattr(self, n) for n in self._port_names()) if p is not None]

    def _pick_ports(self):
        names = self._port_names()
        for name, port in zip(names, free_ports(len(names))):
            setattr(self, name, port)

    def start(self):
        """Starts the server on new free ports and waits until it is ready. Retries with other
        ports if one was taken between picking and binding; raises `error` with the server's
        log otherwise."""
        for attempt in range(3):
            self._pick_ports()
            try:
                return self._launch()
            except self.error:
                if "address already in use" in self.log().lower() and attempt < 2:
                    continue
                raise

    def restart(self):
        """Stops the server if it runs (gracefully; kill() first for a crash) and starts it
        again on the same ports. Its state and counters start afresh."""
        self.stop()
        return self._launch()

    def _launch(self):
        self._prepare()
        mark = self._ready_mark()
        with open(self.stderr_path, "a") as err:
            self.proc = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
                preexec_fn=raise_nofile if self.raise_nofile else None)
        problem = self._wait_ready(mark)
        if problem is None:
            self.nofile = soft_nofile(self.proc.pid)
            return self
        self.kill()
        raise self.error(f"{self.name} did not start ({problem}); config {self.conf}\n"
                         f"{self.log()}")

    def log(self):
        """The server's log and its stdout/stderr (start-up errors go there), as one text."""
        return read_logs((self.log_file, self.stderr_path), self.no_log)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, as a crashed server: clients see their connections reset or closed."""
        if self.running:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self, timeout=10.0):
        """stop_signal, then SIGKILL if the server has not exited within timeout. Returns the
        exit status (None if it had to be killed)."""
        if not self.running:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(self.stop_signal)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
