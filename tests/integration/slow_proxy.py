"""A TCP proxy that reads slower than the rate, for the brokers' slow-reader tests.

    with SlowProxy(broker.port, rate=50 * 1024) as proxy:
        url = f"mqtt://127.0.0.1:{proxy.port}"     # the tool connects here
        ...
        proxy.counts()       # {"connections", "open", "up_bytes", "down_bytes", ...}
        proxy.unthrottle()   # the client is done: let the rest through at full speed
        proxy.wait_closed()  # every connection ended: the server has read all of it

Each accepted client gets a connection of its own to the real server (127.0.0.1:target_port).
Bytes from the server go back to the client at full speed; bytes from the client go to the
server at no more than `rate` bytes per second per connection (a token bucket whose burst is one
read of `chunk` bytes): the proxy reads the client's socket no faster than that, so the client
sees a peer that reads slowly but never stops.

Two settings of the listening socket (before listen(): accepted sockets inherit them) make the
client's side fill up soon, so that what the client cannot send shows in its own counts:
  rcvbuf  a small SO_RCVBUF (8 KiB; the kernel doubles it): a small window.
  mss     a small TCP_MAXSEG (1024), the MSS announced to the client. Linux grows a sender's
          send buffer by its congestion window times the peer's MSS; on loopback (MSS 64 KiB)
          the client's kernel would take ~4 MiB per connection (seen: 3.9 MiB, 1.4 MiB of it
          not yet sent after 3 s at 50 KiB/s), i.e. a minute of queue at 50 KiB/s. With 1024
          it stays at a few hundred KiB (seen: 150-460 KiB).

Two threads per connection (up: client -> server, limited; down: server -> client) on blocking
sockets, and one accept thread. An end of stream is passed on as a half close (shutdown
SHUT_WR) in the same direction; an error in either direction ends both. close() (or leaving the
with block) stops accepting, shuts every socket down (which wakes any thread blocked in recv or
send), and joins all the threads.

Counters (under `lock`; counts() copies them): `connections` accepted, `open_connections`
not yet ended, `up_bytes` forwarded to the server, `down_bytes` forwarded to the client,
`upstream_failures` (the server refused a connection). unthrottle() lifts the limit, e.g. once
the client is done, so what it left in the kernel buffers reaches the server at once;
wait_closed() waits until every connection has ended (the server has read all of it).

This module imports neither pytest nor the tests' conftest.
"""
import socket
import threading
import time


class SlowProxy:
    def __init__(self, target_port, rate=50 * 1024, rcvbuf=8192, mss=1024, chunk=None,
                 target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.rate = float(rate)
        # About 50 reads a second: smooth enough that the server sees a steady trickle.
        self.chunk = chunk or max(256, int(rate) // 50)
        self.lock = threading.Lock()
        self._closed_cond = threading.Condition(self.lock)
        self.open_connections = 0
        self.connections = 0
        self.up_bytes = 0
        self.down_bytes = 0
        self.upstream_failures = 0
        self._stop = threading.Event()
        self._threads = []
        self._sockets = set()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:  # before listen(), as mss: the window an accepted connection announces
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if mss:  # the MSS announced to clients: their send buffers grow by it
            self.listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self._spawn(self._accept_loop, "slow-proxy-accept")

    # ---- threads ---------------------------------------------------------------------------

    def _spawn(self, target, name, *args):
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self.lock:
            self._threads.append(t)
        t.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return  # the listener was closed
            client.settimeout(None)
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                with self.lock:
                    self.upstream_failures += 1
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                if self._stop.is_set():
                    client.close()
                    server.close()
                    return
                self.connections += 1
                self.open_connections += 1
                self._sockets.update((client, server))
            pair = _Pair(client, server)
            self._spawn(self._up, "slow-proxy-up", pair)
            self._spawn(self._down, "slow-proxy-down", pair)

    def _up(self, pair):
        """client -> server, at most `rate` bytes a second (burst: one chunk)."""
        tokens, last = float(self.chunk), time.monotonic()
        try:
            while not self._stop.is_set():
                rate, size = self.rate, 1 << 16
                if rate != float("inf"):
                    now = time.monotonic()
                    tokens = min(float(self.chunk), tokens + (now - last) * rate)
                    last = now
                    if tokens < self.chunk:
                        self._stop.wait((self.chunk - tokens) / rate)
                        continue
                    size = self.chunk
                data = pair.client.recv(size)
                if not data:
                    pair.half_close(pair.server)
                    break
                pair.server.sendall(data)
                tokens -= len(data)
                with self.lock:
                    self.up_bytes += len(data)
        except OSError:
            pair.abort()
        pair.done(self)

    def _down(self, pair):
        """server -> client, at full speed."""
        try:
            while not self._stop.is_set():
                data = pair.server.recv(65536)
                if not data:
                    pair.half_close(pair.client)
                    break
                pair.client.sendall(data)
                with self.lock:
                    self.down_bytes += len(data)
        except OSError:
            pair.abort()
        pair.done(self)

    def _forget(self, *socks):
        with self.lock:
            self._sockets.difference_update(socks)
            self.open_connections -= 1
            self._closed_cond.notify_all()

    def wait_closed(self, timeout=10.0):
        """Waits until every connection accepted so far has ended in both directions (the
        client closed, everything it wrote was passed on and the server closed too); returns
        whether that happened within timeout seconds."""
        with self.lock:
            return self._closed_cond.wait_for(lambda: self.open_connections == 0, timeout)

    def unthrottle(self):
        """From now on client -> server goes at full speed too: what clients already wrote (in
        their kernel buffers and ours) reaches the server at once."""
        self.rate = float("inf")

    # ---- life cycle ------------------------------------------------------------------------

    def counts(self):
        with self.lock:
            return {"connections": self.connections, "open": self.open_connections,
                    "up_bytes": self.up_bytes,
                    "down_bytes": self.down_bytes, "upstream_failures": self.upstream_failures}

    def close(self):
        self._stop.set()
        try:
            self.listener.close()
        except OSError:
            pass
        self._threads[0].join(timeout=5)  # the accept thread: no connection is added after it
        with self.lock:
            socks = list(self._sockets)
        for s in socks:  # wakes threads blocked in recv/sendall on them
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self.lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout=5)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            raise RuntimeError(f"slow proxy threads still running after close: {alive}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Pair:
    """A client socket and its server socket; closed when both directions have ended."""

    def __init__(self, client, server):
        self.client = client
        self.server = server
        self._lock = threading.Lock()
        self._ended = 0

    @staticmethod
    def half_close(sock):
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def abort(self):
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def done(self, proxy):
        with self._lock:
            self._ended += 1
            last = self._ended == 2
        if last:
            proxy._forget(self.client, self.server)
            for s in (self.client, self.server):
                try:
                    s.close()
                except OSError:
                    pass


def publish_through(tmp, broker_port, args, devices, msg, seconds, rate):
    """Runs the tool (1 KiB messages, `args` naming the sink and its flags) through a SlowProxy
    of `rate` bytes/s to the broker. Returns the run, how long it took and the proxy's counts
    during it; what the tool left in its kernel buffers then goes through at once, and once
    every connection has ended the broker has read all of it."""
    from conftest import run_tool
    with SlowProxy(broker_port, rate=rate) as proxy:
        t0 = time.monotonic()
        run = run_tool(tmp, [*args, "--port", str(proxy.port), "--devices", str(devices),
                             "--msg", str(msg), "--payload", "1KiB", "--duration", f"{seconds}s",
                             "--quiet"], timeout=60)
        elapsed = time.monotonic() - t0
        during = proxy.counts()
        proxy.unthrottle()
        assert proxy.wait_closed(timeout=10), proxy.counts()
    return run, elapsed, during


def assert_slow_not_dead(run, elapsed, during, devices, msg, seconds, rate, missed_share):
    """What any sink owes a target slower than the rate: the surplus counted missed (at least
    `missed_share` of what was due), every due message accounted, no connection given up, the
    proxy kept to its rate, and the tool not holding the surplus itself."""
    from conftest import SANITIZED
    assert run.returncode == 0, run.stderr
    c = run.counters
    due = devices * msg * seconds
    assert c["sent"] + c["missed"] == due, c
    assert c["missed"] > missed_share * due, c
    assert c["disconnects"] == c["reconnects"] == c["err_timeout"] == 0, c
    assert c["connects"] == during["connections"] == devices, (c, during)
    assert during["up_bytes"] <= devices * rate * (elapsed + 0.5), (during, elapsed)
    if not SANITIZED:  # ASan's quarantine grows the process on its own
        rss = [p["rss_kib"] for p in run.result["intervals"]]
        assert max(rss) - rss[0] < 8 * 1024, rss
