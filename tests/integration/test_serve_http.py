"""`load-tester serve --sink http`, driven by Python's own HTTP client: keep-alive, pipelining,
HEAD, request bodies, Connection: close, malformed requests, --delay, and the server's counts."""
import http.client
import socket
import time

from conftest import Server

REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


class _Stream:
    """Lets http.client.HTTPResponse read response after response from one buffered reader, as
    a pipelining client must (each HTTPResponse would otherwise buffer its own file, and close
    it after its body)."""

    class _KeepOpen:
        def __init__(self, file):
            self._file = file

        def __getattr__(self, name):
            return getattr(self._file, name)

        def close(self):
            pass

    def __init__(self, sock):
        self.file = sock.makefile("rb")

    def makefile(self, *args, **kwargs):
        return self._KeepOpen(self.file)


def read_response(stream, method="GET"):
    response = http.client.HTTPResponse(stream, method=method)
    response.begin()
    return response, response.read()


def read_until_close(sock, timeout=5.0):
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def connect(server):
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def test_keep_alive_requests_share_one_connection(tmp):
    server = Server(tmp, sink="http")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    sockets = set()
    for k in range(5):
        conn.request("GET", f"/item/{k}")
        response = conn.getresponse()
        assert response.status == 200 and response.reason == "OK"
        assert response.read() == b"ok\n"
        assert response.getheader("Content-Length") == "3"
        assert response.getheader("Connection") is None  # HTTP/1.1: kept open by default
        sockets.add(id(conn.sock))
    conn.close()
    got = server.stop()
    assert len(sockets) == 1
    assert got["sink"] == "http"
    assert got["messages"] == 5 and got["connections"] == 1 and got["malformed"] == 0


def test_pipelined_requests_are_answered_in_order(tmp):
    server = Server(tmp, sink="http")
    requests = (REQUEST + b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n"
                + b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                + b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    with connect(server) as sock:
        sock.sendall(requests)  # one send: the server reads them in one go
        stream = _Stream(sock)
        first, body1 = read_response(stream)
        head, body2 = read_response(stream, "HEAD")
        post, body3 = read_response(stream)
        last, body4 = read_response(stream)
        assert [first.status, head.status, post.status, last.status] == [200] * 4
        assert (body1, body2, body3, body4) == (b"ok\n", b"", b"ok\n", b"ok\n")
        assert head.getheader("Content-Length") == "3"  # HEAD: the GET's headers, no body
        assert last.getheader("Connection") == "close"
        assert stream.file.read() == b""  # and then the server closed
        stream.file.close()
    got = server.stop()
    assert got["messages"] == 4
    assert got["bytes"] == len(requests)


def test_head_gets_headers_without_a_body(tmp):
    server = Server(tmp, sink="http")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("HEAD", "/")
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b""
    assert response.getheader("Content-Length") == "3"
    conn.request("GET", "/")  # the connection is still in step after the bodiless response
    assert conn.getresponse().read() == b"ok\n"
    conn.close()
    assert server.stop()["messages"] == 2


def test_post_bodies_with_content_length_and_chunked(tmp):
    server = Server(tmp, sink="http")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/cl", body=b"x" * 100_000)
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b"ok\n"
    conn.request("POST", "/chunked", body=iter([b"abc", b"d" * 5000, b"efg"]),
                 encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b"ok\n"
    conn.request("GET", "/")  # both bodies ended where they should
    assert conn.getresponse().read() == b"ok\n"
    conn.close()
    got = server.stop()
    assert got["messages"] == 3 and got["malformed"] == 0
    assert got["connections"] == 1


def test_connection_close_is_honoured(tmp):
    server = Server(tmp, sink="http")
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)  # returns only when the server closes
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in data and data.endswith(b"\r\n\r\nok\n")
    # HTTP/1.0 closes by default, and stays open when it asks for keep-alive.
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert read_until_close(sock).endswith(b"ok\n")
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2)
        stream = _Stream(sock)
        for _ in range(2):
            response, body = read_response(stream)
            assert response.getheader("Connection") == "keep-alive" and body == b"ok\n"
        stream.file.close()  # else the socket's descriptor outlives its close()
    got = server.stop()
    assert got["messages"] == 4 and got["connections"] == 3 and got["closed"] == 3


def test_malformed_request_gets_400_and_is_counted(tmp):
    server = Server(tmp, sink="http")
    with connect(server) as sock:
        # A good request, then smuggling-shaped framing: answered in order, then closed.
        sock.sendall(REQUEST + b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + REQUEST)
        stream = _Stream(sock)
        ok, _ = read_response(stream)
        bad, body = read_response(stream)
        assert ok.status == 200
        assert bad.status == 400 and bad.reason == "Bad Request"
        assert bad.getheader("Connection") == "close"
        assert body == b"bad request: both Transfer-Encoding and Content-Length\n"
        assert stream.file.read() == b""  # the request after it is not answered
        stream.file.close()
    with connect(server) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert read_until_close(sock).startswith(b"HTTP/1.1 400 Bad Request\r\n")
    got = server.stop()
    assert got["malformed"] == 2 and got["messages"] == 1


def test_delay_holds_each_response(tmp):
    server = Server(tmp, sink="http", extra=["--delay", "50ms"])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.connect()
    took = []
    for _ in range(3):
        t0 = time.monotonic()
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"ok\n"
        took.append(time.monotonic() - t0)
    conn.close()
    # Pipelined requests are each held, and still come back in order.
    with connect(server) as sock:
        t0 = time.monotonic()
        sock.sendall(REQUEST + b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + REQUEST)
        stream = _Stream(sock)
        bodies = [read_response(stream, method)[1] for method in ("GET", "HEAD", "GET")]
        pipelined = time.monotonic() - t0
        stream.file.close()
    got = server.stop()
    assert min(took) >= 0.050, took
    assert pipelined >= 0.050 and bodies == [b"ok\n", b"", b"ok\n"]
    assert got["messages"] == 6


def test_server_counts_every_request_sent(tmp):
    server = Server(tmp, sink="http")
    sent = 0
    conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=5) for _ in range(4)]
    for round_ in range(25):
        for conn in conns:
            conn.request("POST" if round_ % 2 else "GET", "/", body=b"b" * round_)
            assert conn.getresponse().read() == b"ok\n"
            sent += 1
    for conn in conns:
        conn.close()
    got = server.stop()
    assert got["messages"] == sent == 100
    assert got["connections"] == 4 and got["malformed"] == 0
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"
    assert got["echoed_bytes"] == sent * len(response)  # response bytes, all written
