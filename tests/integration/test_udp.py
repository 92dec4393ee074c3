"""UDP against the built-in server: counts, echo round trips, loss when the server goes away."""
import json
import socket
import time

from conftest import SANITIZED, Server, free_port, run_tool, start_tool

# Sanitized binaries (and server) are several times slower: a tenth of the datagrams, so
# that no socket buffer overflows and every count stays exact.
SCALE = 0.1 if SANITIZED else 1.0


def test_fire_and_forget_counts_match_the_server(tmp):
    server = Server(tmp, sink="udp")
    msg = int(100 * SCALE)
    run = run_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices", "100",
                         "--msg", str(msg), "--duration", "3s", "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    assert run.counters["sent"] == 100 * msg * 3
    assert got["messages"] == run.counters["sent"] and got["malformed"] == 0


def test_echo_matches_every_reply(tmp):
    server = Server(tmp, sink="udp", echo=True)
    msg = int(100 * SCALE)
    run = run_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices", "100",
                         "--msg", str(msg), "--duration", "3s", "--echo", "--quiet"])
    server.stop()
    c = run.counters
    assert run.returncode == 0, run.stderr
    assert c["sent"] == 100 * msg * 3
    assert c["completed"] + c["lost"] == c["sent"]
    assert c["lost"] == 0 and c["duplicates"] == 0
    assert run.result["histograms"]["latency"]["percentiles"]["p99"] > 0


def test_loss_is_reported_when_the_server_stops(tmp):
    server = Server(tmp, sink="udp", echo=True)
    msg = int(100 * SCALE)
    proc, json_path = start_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices",
                                       "20", "--msg", str(msg), "--duration", "4s", "--echo",
                                       "--timeout", "300ms", "--quiet"])
    time.sleep(1.5)
    server.kill()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    c = json.loads(json_path.read_text())["counters"]
    assert c["sent"] == 20 * msg * 4
    assert c["lost"] > 20 * msg * 1, c  # the last 2.5 s
    assert c["completed"] + c["lost"] == c["sent"]
    assert "lost" in out


def test_inflight_limits_unanswered_datagrams_per_device(tmp):
    # Replies take 50 ms and each device may have one unanswered: at most one send per 50 ms
    # per device, over the 2 s run and the 1 s drain (--timeout) in which the backlog of
    # messages due during the run still goes out; the rest overflows the backlog: missed.
    server = Server(tmp, sink="udp", echo=True, extra=["--delay", "50ms"])
    run = run_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices", "5", "--msg",
                         "100", "--duration", "2s", "--echo", "--inflight", "1", "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["sent"] + c["missed"] == 1_000
    assert c["sent"] <= 5 * (3_000 // 50 + 2), c
    assert c["missed"] > 0
    assert c["sent"] == c["completed"] + c["lost"] == got["messages"]


def test_a_device_whose_socket_cannot_open_retries_and_is_counted(tmp):
    server = Server(tmp, sink="udp")
    # 192.0.2.1 (TEST-NET-1) is on no interface here: bind() fails, nothing is sent anywhere.
    run = run_tool(tmp, ["--sink", "udp", "--port", str(server.port), "--devices", "4", "--msg",
                         "10", "--duration", "2s", "--source-ip", "127.0.0.1,192.0.2.1",
                         "--quiet"])
    got = server.stop()
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert run.result["run"]["connected_at_start"] == 2
    assert c["err_unreachable"] >= 4  # the first attempts and at least one retry each
    assert c["sent"] == got["messages"] == 40
    assert c["sent"] + c["missed"] == 80


def _last_full_interval(result):
    return [p for p in result["intervals"] if p["length_ns"] == 1_000_000_000][-1]


def test_server_killed_and_restarted_on_its_port_mid_run(tmp):
    """SIGKILL the echo server 1.5 s in, a new one on the same port 1 s later. UDP has no
    connection to lose: each device keeps its socket (no disconnect, no reconnect) and sends on
    schedule into the gap; every datagram sent there is lost, and the ICMP port-unreachable it
    draws is read from the socket as ECONNREFUSED (err_refused, one per datagram sent into the
    gap, so never more than the lost ones). Replies resume with the new server."""
    port = free_port(socket.SOCK_DGRAM)
    server = Server(tmp, sink="udp", echo=True, port=port)
    devices, msg, seconds = 20, int(100 * SCALE), 5
    rate = devices * msg
    proc, json_path = start_tool(tmp, ["--sink", "udp", "--echo", "--port", str(port),
                                       "--devices", str(devices), "--msg", str(msg),
                                       "--duration", f"{seconds}s", "--timeout", "300ms",
                                       "--quiet"])
    time.sleep(1.5)
    server.kill()
    down = time.monotonic()
    time.sleep(1.0)
    server = Server(tmp, sink="udp", echo=True, port=port)
    gap = time.monotonic() - down
    out, err = proc.communicate(timeout=60)
    got = server.stop()
    assert proc.returncode == 0, err
    result = json.loads(json_path.read_text())
    c = result["counters"]
    assert c["sent"] + c["missed"] == rate * seconds, c
    assert c["completed"] + c["lost"] == c["sent"], c
    # The gap (>= 1 s at 2000/s) is lost; the run's other 3.5 s are not.
    assert 0.5 * rate <= c["lost"] <= rate * (gap + 0.5), (c, gap)
    assert devices <= c["err_refused"] <= c["lost"], c
    assert c["disconnects"] == c["reconnects"] == 0 and c["connects"] == devices, c
    # What the new server echoed came back (completed holds the replies before the kill too).
    assert 0 < got["messages"] <= c["completed"], (got, c)
    last = _last_full_interval(result)
    assert last["connected"] == devices, last
    assert last["counters"]["completed"] >= 0.9 * rate, last
    assert last["counters"]["err_refused"] == 0, last


def test_echo_to_a_port_where_nothing_listens_counts_refused(tmp):
    """Nothing on the port: each datagram draws an ICMP port-unreachable, which the connected
    socket reports as ECONNREFUSED: counted err_refused, and every datagram is lost. The error
    is read when it arrives (EPOLLERR); left pending it woke the loop at once, again and again:
    2.3 s of CPU in this 2 s run, 0.03 s since."""
    port = free_port(socket.SOCK_DGRAM)
    devices = 5
    run = run_tool(tmp, ["--sink", "udp", "--echo", "--port", str(port), "--devices",
                         str(devices), "--msg", "10", "--duration", "2s", "--timeout", "300ms",
                         "--quiet"], timeout=30)
    c = run.counters
    # Datagrams went out, so this is not "nothing was sent" (exit 1): exit 0.
    assert run.returncode == 0, run.stderr
    assert c["sent"] == 100 and c["missed"] == 0, c
    assert c["completed"] == 0 and c["lost"] == 100, c
    # Two errors arriving before one read count once (the socket holds one).
    assert c["sent"] - devices <= c["err_refused"] <= c["sent"], c
    assert c["err_unreachable"] == c["err_send"] == 0, c
    assert run.result["run"]["cpu_seconds"] < 0.5, run.result["run"]  # no busy loop
