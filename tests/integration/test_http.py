"""The HTTP sink against a real nginx (tests/integration/nginx.py) and the built-in HTTP server:
counts checked against the server's own, HTTPS verification, closed loop, faults, bad input."""
import subprocess
import time

import pytest

from conftest import (BINARY, SANITIZED, Server, assert_usage_error, free_port, run_tool,
                      start_tool)

SCALE = 0.25 if SANITIZED else 1.0


def check_counts_match_nginx(run, nginx):
    c = run.counters
    assert c["completed"] == c["sent"] > 0
    assert c["lost"] == 0 and c["missed"] == 0
    # nginx's own counts: its access log (one line per request) and stub_status.
    assert nginx.access_count(at_least=c["completed"]) == c["completed"]
    assert nginx.requests() == c["completed"]
    return c


def test_50_devices_at_20k_per_second_match_nginx(tmp, nginx):
    rate, seconds = int(20000 * SCALE), 10
    run = run_tool(tmp, ["--url", nginx.url("/"), "--devices", "50", "--rate", str(rate),
                         "--duration", f"{seconds}s", "--quiet"], timeout=120)
    assert run.returncode == 0, run.stderr
    c = check_counts_match_nginx(run, nginx)
    assert c["status_2xx"] == c["completed"]
    assert c["sent"] == rate * seconds  # every tick of the schedule sent, none missed
    target, achieved = run.result["rate"]["target"], run.result["rate"]["achieved"]
    assert target == rate
    assert abs(achieved / target - 1) <= 0.005, (achieved, target)
    lat = run.result["histograms"]["latency"]
    assert lat["count"] == c["completed"]
    assert 0 < lat["percentiles"]["p50"] <= lat["percentiles"]["p99"] <= lat["max"]
    assert run.result["options"]["http"]["method"] == "GET"
    assert "responses   2xx" in run.stdout and "p99.9" in run.stdout


def test_https_verifies_the_certificate(tmp, nginx_tls):
    url = nginx_tls.tls_url("/")
    args = ["--url", url, "--devices", "4", "--rate", "400", "--duration", "1s", "--quiet",
            "--connect-timeout", "1s"]
    bad = run_tool(tmp, args, timeout=60)
    # Self-signed CA not trusted: nothing sent, a clear reason, a failing exit code.
    assert bad.returncode == 1, bad.stderr
    assert "certificate verify failed" in bad.stderr, bad.stderr
    assert bad.counters["err_tls"] >= 4 and bad.counters["sent"] == 0

    good = run_tool(tmp, args + ["--ca-file", nginx_tls.ca_file], timeout=60)
    assert good.returncode == 0, good.stderr
    c = good.counters
    assert c["completed"] == c["sent"] == 400 and c["err_tls"] == 0
    hs = good.result["histograms"]["tls_handshake"]
    assert hs["count"] == 4 and hs["min"] > 0
    assert good.result["options"]["tls_verify"] is True
    assert nginx_tls.access_count(at_least=400) == 400

    insecure = run_tool(tmp, args + ["--insecure"], timeout=60)
    assert insecure.returncode == 0 and "not verified" in insecure.stderr
    assert insecure.counters["completed"] == 400


def test_https_address_must_match_the_certificate(tmp):
    # The certificate names IP 127.0.0.1 and localhost. The same nginx also listens on
    # 127.0.0.2 (all of 127/8 is loopback): trusted CA, wrong address, so it must fail.
    from nginx import Nginx
    port = free_port()
    with Nginx(tmp, tls=True, extra_server=f"        listen 127.0.0.2:{port} ssl;") as server:
        run = run_tool(tmp, ["--sink", "http", "--tls", "--hostname", "127.0.0.2", "--port",
                             str(port), "--ca-file", server.ca_file, "--devices", "1", "--rate",
                             "10", "--duration", "500ms", "--connect-timeout", "500ms"],
                       timeout=30)
        assert run.returncode == 1, run.stderr
        assert "certificate verify failed" in run.stderr and "mismatch" in run.stderr, run.stderr
        assert run.counters["err_tls"] >= 1 and run.counters["sent"] == 0


def test_post_body_file_and_status_classes(tmp, nginx):
    body = f"{tmp}/body.json"
    with open(body, "w") as f:
        f.write('{"temperature": 21.5}')
    post = run_tool(tmp, ["--url", nginx.url("/post"), "--method", "POST", "--body-file", body,
                          "-H", "Content-Type: application/json", "--devices", "2", "--rate",
                          "200", "--duration", "1s", "--quiet"])
    assert post.returncode == 0, post.stderr
    assert post.counters["status_2xx"] == post.counters["completed"] == 200
    entries = nginx.access_log_entries()
    assert len(entries) == 200, len(entries)
    assert all(e["method"] == "POST" and e["uri"] == "/post" and e["status"] == 200 and
               e["content_length"] == 21 for e in entries), entries[:2]

    for path, kind in (("/status/404", "status_4xx"), ("/status/500", "status_5xx"),
                       ("/status/204", "status_2xx")):
        run = run_tool(tmp, ["--url", nginx.url(path), "--rate", "100", "--duration", "500ms",
                             "--quiet"])
        assert run.returncode == 0, run.stderr
        assert run.counters[kind] == run.counters["completed"] == 50, (path, run.counters)

    head = run_tool(tmp, ["--url", nginx.url("/"), "--method", "HEAD", "--rate", "100",
                          "--duration", "500ms", "--quiet"])
    assert head.counters["completed"] == 50 and head.counters["err_malformed"] == 0


def test_closed_loop_with_pipelining(tmp, nginx):
    run = run_tool(tmp, ["--url", nginx.url("/"), "--devices", "8", "--rate", "max",
                         "--pipeline", "4", "--duration", "2s", "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    # At the end each connection may hold up to --pipeline answered-late requests: they are
    # drained, so the counts still match exactly.
    check_counts_match_nginx(run, nginx)
    assert run.result["rate"]["closed_loop"] is True and run.result["rate"]["target"] is None
    assert "CLOSED LOOP" in run.stdout and "closed loop (--rate max)" in run.stdout
    assert c["completed"] > 1000


def test_server_closing_each_connection_is_not_an_error(tmp, nginx):
    run = run_tool(tmp, ["--url", nginx.url("/close"), "--devices", "4", "--rate", "200",
                         "--duration", "1s", "--quiet"])
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["completed"] == c["sent"] == 200 and c["lost"] == 0
    assert c["connects"] >= 200  # a new connection per request, reopened at once
    assert run.result["counters"]["disconnects"] == 0


def test_stalled_server_times_out_and_recovers(tmp):
    # The built-in server stops answering for 600 ms every 1.5 s; --timeout 200ms closes the
    # waiting connections, counts them, and reconnects.
    server = Server(tmp, sink="http", extra=["--stall", "600ms", "--stall-every", "1500ms"])
    try:
        run = run_tool(tmp, ["--sink", "http", "--port", str(server.port), "--devices", "5",
                             "--rate", "500", "--duration", "3s", "--timeout", "200ms",
                             "--quiet"], timeout=60)
    finally:
        served = server.stop()
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["err_timeout"] >= 1 and c["lost"] >= 1
    assert c["completed"] > 0.5 * c["sent"]
    assert c["sent"] + c["missed"] == 1500  # every due request accounted for
    assert served["messages"] >= c["completed"]


def test_server_killed_mid_run(tmp, nginx):
    proc, json_path = start_tool(tmp, ["--url", nginx.url("/"), "--devices", "10", "--rate",
                                       "1000", "--duration", "3s", "--quiet"])
    time.sleep(1.0)
    nginx.stop()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    import json
    c = json.loads(json_path.read_text())["counters"]
    assert c["completed"] > 500
    assert c["err_refused"] + c["err_closed"] + c["err_reset"] > 0
    assert c["sent"] + c["missed"] == 3000


def _port_refuses(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:  # reset by a worker dying with it in its accept queue, or a timeout
        return False


@pytest.mark.parametrize("hung_first", [False, True], ids=["killed", "hung-then-killed"])
def test_nginx_killed_and_restarted_mid_run(tmp, nginx, hung_first):
    """SIGKILL to nginx (master and workers) 1.5 s in, restarted on its port 1 s later.
    killed: the kernel closes the connections with a FIN, and a keep-alive connection closed
    while idle is the server's right (not a disconnect): only one that had a request out
    counts, so disconnects and err_reset/err_closed range from 0 to the devices. Each device
    reopens at once and is refused while nginx is down. (Neither count is asserted here.)
    hung-then-killed: the workers are SIGSTOPped for 300 ms first, so every device has a
    request nginx never read: the kill resets each connection (err_reset, or err_closed on a
    FIN), and its request is lost."""
    import json
    import os
    import signal
    devices, rate, seconds = 10, int(1000 * SCALE), 6
    proc, json_path = start_tool(tmp, ["--url", nginx.url("/"), "--devices", str(devices),
                                       "--rate", str(rate), "--duration", f"{seconds}s",
                                       "--quiet"])
    time.sleep(1.5)
    if hung_first:
        for pid in nginx.worker_pids():
            os.kill(pid, signal.SIGSTOP)
        time.sleep(0.3)
    nginx.kill()
    down = time.monotonic()
    # The workers were killed by pid, not waited for: the port is free once they are gone.
    while not _port_refuses(nginx.port):
        assert time.monotonic() - down < 5, "nginx's port still open after the kill"
        time.sleep(0.01)
    time.sleep(max(0.0, 1.0 - (time.monotonic() - down)))
    nginx.restart()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(json_path.read_text())
    c = result["counters"]
    assert c["sent"] + c["missed"] == rate * seconds, c
    assert c["completed"] + c["lost"] == c["sent"], c
    assert c["reconnects"] >= devices, c
    assert c["err_refused"] >= devices, c  # at least one refused reopen per device
    # Every disconnect is counted with its cause; none is a timeout (nothing waited 1 s): a
    # backlog request offered on reconnect is aged from then, not from its intended time.
    assert c["disconnects"] <= c["err_reset"] + c["err_closed"], c
    assert c["err_timeout"] == 0, c
    if hung_first:
        assert c["disconnects"] >= devices, c
        assert c["err_reset"] + c["err_closed"] >= devices, c
        assert c["lost"] >= devices, c  # each device's unread request
    # Back at rate: every device connected and the last whole second completed on schedule;
    # the new nginx answered nothing the run did not count.
    last = [p for p in result["intervals"] if p["length_ns"] == 1_000_000_000][-1]
    assert last["connected"] == devices, last
    assert last["counters"]["completed"] >= 0.9 * rate, last
    assert last["counters"]["completed"] <= nginx.requests() <= c["completed"], c


def test_built_in_http_server(tmp):
    server = Server(tmp, sink="http")
    try:
        run = run_tool(tmp, ["--sink", "http", "--port", str(server.port), "--devices", "20",
                             "--rate", "2000", "--duration", "2s", "--pipeline", "2",
                             "--quiet"])
    finally:
        served = server.stop()
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["completed"] == c["sent"] == 4000 == served["messages"]
    assert c["status_2xx"] == 4000 and served["malformed"] == 0


@pytest.mark.parametrize("args,flag", [
    (["--url", "ftp://127.0.0.1/"], "--url"),
    (["--url", "http://"], "--url"),
    (["--url", "http://127.0.0.1:99999/"], "--url"),
    (["--url", "http://u:p@127.0.0.1/"], "--url"),
    (["--url", "http://127.0.0.1/", "--method", "FETCH"], "--method"),
    (["--url", "http://127.0.0.1/", "--body-file", "/nonexistent/body"], "--body-file"),
    (["--url", "http://127.0.0.1/", "-H", "NoColon"], "--header"),
    (["--url", "http://127.0.0.1/", "-H", "Content-Length: 5"], "--header"),
    (["--url", "http://127.0.0.1/", "--pipeline", "0"], "--pipeline"),
    (["--url", "https://127.0.0.1/", "--ca-file", "/nonexistent/ca.pem"], "--ca-file"),
    (["--url", "http://127.0.0.1/", "--hostname", "x"], "--url"),
    (["--method", "POST"], "--method"),
    (["--rate", "max"], "--rate"),
    (["--url", "http://127.0.0.1/", "--payload", "100"], "--payload"),
])
def test_bad_http_input(args, flag):
    r = subprocess.run([BINARY, *args, "--noexec"], capture_output=True, text=True, timeout=30)
    assert_usage_error(r, args, flag)


def test_ca_file_without_certificates_is_a_usage_error(tmp):
    bad = f"{tmp}/empty.pem"
    open(bad, "w").write("not a certificate\n")
    r = subprocess.run([BINARY, "--url", f"https://127.0.0.1:{free_port()}/", "--ca-file", bad,
                        "--noexec"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--ca-file" in r.stderr, r.stderr


def test_close_with_pipelined_requests_behind_it_is_an_error(tmp, nginx):
    # nginx answers /close with "Connection: close": requests pipelined behind that response
    # were sent and will never be answered. They must show as lost with an error, not vanish.
    run = run_tool(tmp, ["--url", nginx.url("/close"), "--devices", "4", "--rate", "max",
                         "--pipeline", "4", "--duration", "1s", "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["completed"] == nginx.access_count(at_least=c["completed"])
    assert c["completed"] + c["lost"] + c["missed"] == c["sent"] + c["missed"]
    assert c["lost"] > 0 and c["err_closed"] > 0 and c["disconnects"] > 0


class AcceptAndClose:
    """A server that accepts every connection and closes it at once, as a server out of
    connections (or a misconfigured proxy) does."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


def test_server_that_closes_at_once_gets_backoff_not_a_storm(tmp):
    server = AcceptAndClose()
    try:
        run = run_tool(tmp, ["--sink", "http", "--port", str(server.port), "--devices", "2",
                             "--msg", "1", "--duration", "2s", "--quiet"], timeout=30)
    finally:
        server.close()
    c = run.counters
    assert c["err_closed"] >= 2
    # Capped exponential backoff from 50 ms: ~10 attempts per device in 2 s, not thousands.
    assert c["connects"] <= 60, c
    assert c["completed"] == 0 and c["sent"] + c["missed"] == 4


def test_server_that_never_reads_big_bodies_bounds_memory(tmp):
    import socket
    body = f"{tmp}/big.bin"
    with open(body, "wb") as f:
        f.write(b"x" * (1 << 20))
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(16)  # accepted by the kernel, never read: the tool's writes back up
    try:
        run = run_tool(tmp, ["--sink", "http", "--port", str(sink.getsockname()[1]), "--method",
                             "POST", "--body-file", body, "--pipeline", "64", "--rate", "max",
                             "--duration", "2s", "--timeout", "10s", "--quiet"], timeout=60)
    finally:
        sink.close()
    assert run.returncode in (0, 1), run.stderr
    assert run.counters["sent"] >= 1 and run.counters["err_timeout"] >= 1
    # 64 pipelined 1 MiB requests would be 64 MiB in our buffer; it is bounded by 256 KiB
    # beyond one request. (Sanitizer builds add their own tens of MiB: checked normally only.)
    if not SANITIZED:
        assert run.result["run"]["max_rss_kib"] < 40 * 1024, run.result["run"]["max_rss_kib"]


def test_header_file_credentials_reach_the_server_but_no_report(tmp):
    """--header-file: the server gets the header; stdout, stderr, the result file and the
    --verbose options line never show its value; a credential given with -H is redacted too."""
    import http.server
    import threading
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            seen.append((self.headers.get("Authorization"), self.headers.get("X-Api-Key")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        headers = f"{tmp}/headers"
        with open(headers, "w") as f:
            f.write("# staging\nAuthorization: Bearer s3cr3t-from-file\n")
        run = run_tool(tmp, ["--url", f"http://127.0.0.1:{server.server_port}/", "--devices", "2",
                             "--msg", "10", "--duration", "1s", "--header-file", headers,
                             "-H", "X-Api-Key: k3y-on-argv", "--verbose"])
    finally:
        server.shutdown()
    assert run.returncode == 0, run.stderr
    assert run.counters["completed"] == run.counters["sent"] == len(seen) == 20
    assert set(seen) == {("Bearer s3cr3t-from-file", "k3y-on-argv")}
    everything = run.stdout + run.stderr + open(f"{tmp}/run.json").read()
    assert "s3cr3t" not in everything and "k3y" not in everything
    http_options = run.result["options"]["http"]
    assert http_options["headers"] == ["X-Api-Key: <redacted>", "Authorization: <redacted>"]
    assert http_options["header_file"] == headers
