"""The nginx harness itself (tests/integration/nginx.py), checked with Python's own HTTP client:
what the HTTP sink's tests will count against must count right first."""
import http.client
import os
import socket
import ssl
import urllib.error
import urllib.request

import pytest

from nginx import Nginx, NginxError


def test_plain_request_returns_ok(nginx):
    with urllib.request.urlopen(nginx.url("/"), timeout=5) as reply:
        assert reply.status == 200
        assert reply.read() == b"ok\n"
    assert nginx.port != 80 and 1024 <= nginx.port < 65536


def test_counts_match_keep_alive_requests(nginx):
    assert nginx.requests() == 0 and nginx.access_count() == 0
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=5)
    for i in range(20):
        conn.request("GET", f"/item/{i}")
        reply = conn.getresponse()
        assert reply.status == 200 and reply.read() == b"ok\n"
    conn.close()
    assert nginx.access_count(at_least=20) == 20
    assert nginx.requests() == 20
    assert nginx.requests() == 20  # status reads do not count themselves
    assert nginx.accepted() == 1
    entries = nginx.access_log_entries()
    # One connection, requests 1..20 on it, in order: keep-alive held throughout.
    assert len({e["connection"] for e in entries}) == 1
    assert [e["connection_requests"] for e in entries] == list(range(1, 21))
    assert [e["uri"] for e in entries] == [f"/item/{i}" for i in range(20)]
    assert all(e["method"] == "GET" and e["status"] == 200 for e in entries)


def test_keep_alive_outlives_the_default_keepalive_requests(nginx):
    """nginx 1.22 closes a connection after 1000 requests by default; the harness does not."""
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=5)
    for _ in range(1100):
        conn.request("GET", "/")
        reply = conn.getresponse()
        reply.read()
        assert not reply.will_close
    conn.close()
    assert nginx.accepted() == 1
    assert nginx.requests() == 1100


def test_post_body_is_read_and_connection_kept(nginx):
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=5)
    body = b"x" * 10_000
    for path, want in (("/post", b"posted\n"), ("/", b"ok\n"), ("/post", b"posted\n")):
        conn.request("POST", path, body=body)
        reply = conn.getresponse()
        assert reply.status == 200 and reply.read() == want
    conn.request("GET", "/post")
    reply = conn.getresponse()
    assert reply.status == 405
    reply.read()
    conn.close()
    entries = nginx.access_log_entries() if nginx.access_count(at_least=4) else []
    assert [e["status"] for e in entries] == [200, 200, 200, 405]
    assert [e["content_length"] for e in entries] == [len(body)] * 3 + [None]
    assert len({e["connection"] for e in entries}) == 1
    assert nginx.requests() == 4


def test_status_locations(nginx):
    for code in (404, 500, 503):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(nginx.url(f"/status/{code}"), timeout=5)
        assert err.value.code == code
    with urllib.request.urlopen(nginx.url("/status/204"), timeout=5) as reply:
        assert reply.status == 204
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=5)
    conn.request("GET", "/close")
    reply = conn.getresponse()
    assert reply.read() == b"ok\n" and reply.will_close
    conn.close()
    assert nginx.access_count(at_least=5) == 5
    assert nginx.requests() == 5


def test_https_with_the_ca_succeeds(nginx_tls):
    assert os.path.exists(nginx_tls.ca_file) and nginx_tls.tls_port != nginx_tls.port
    context = ssl.create_default_context(cafile=str(nginx_tls.ca_file))
    for host in ("127.0.0.1", "localhost"):
        with urllib.request.urlopen(nginx_tls.tls_url("/", host=host), context=context,
                                    timeout=5) as reply:
            assert reply.status == 200 and reply.read() == b"ok\n"
    # The plain listener still serves alongside.
    with urllib.request.urlopen(nginx_tls.url("/"), timeout=5) as reply:
        assert reply.read() == b"ok\n"
    assert nginx_tls.access_count(at_least=3) == 3
    assert [e["scheme"] for e in nginx_tls.access_log_entries()] == ["https", "https", "http"]
    assert nginx_tls.requests() == 3


def test_https_without_the_ca_fails_verification(nginx_tls):
    context = ssl.create_default_context()  # the system's CAs only
    with pytest.raises(urllib.error.URLError) as err:
        urllib.request.urlopen(nginx_tls.tls_url("/"), context=context, timeout=5)
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError), err.value
    # A name the certificate does not carry fails too, even with the CA.
    context = ssl.create_default_context(cafile=str(nginx_tls.ca_file))
    with socket.create_connection(("127.0.0.1", nginx_tls.tls_port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="example.invalid")

def test_stop_is_graceful_and_frees_the_port(tmp):
    server = Nginx(tmp, workers=2)
    assert len(server.worker_pids()) == 2
    with urllib.request.urlopen(server.url("/"), timeout=5) as reply:
        assert reply.read() == b"ok\n"
    workers = server.worker_pids()
    assert server.stop() == 0
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}") or \
            "Z" in open(f"/proc/{pid}/stat").read().split(")")[1].split()[0]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
    with pytest.raises(ConnectionRefusedError):
        conn.request("GET", "/")


def test_a_bad_config_fails_with_the_error_log(tmp):
    with pytest.raises(NginxError, match="no_such_directive"):
        Nginx(tmp, extra_server="no_such_directive on;", start_timeout=5)
