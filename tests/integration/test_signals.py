"""Ctrl-C: the run stops cleanly and every requested file is complete and parseable."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BINARY, Server, decode_hdr, free_port
from netfault import blackhole, needs_nft


def test_ctrl_c_during_an_endless_run_keeps_every_result(tmp):
    server = Server(tmp)
    json_path, log_path = Path(tmp) / "run.json", Path(tmp) / "run.hlog"
    proc = subprocess.Popen([BINARY, "--port", str(server.port), "--devices", "20", "--msg", "50",
                             "--duration", "0", "--update", "500ms", "--json", str(json_path),
                             "--hdr-log", str(log_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    got = server.stop()
    assert proc.returncode == 0, err
    assert "INTERRUPTED" in out and "p99.99" in out

    result = json.loads(json_path.read_text())
    assert result["run"]["interrupted"] is True
    c = result["counters"]
    assert c["sent"] > 1000 and got["messages"] == c["sent"]
    assert 1.5e9 < result["run"]["elapsed_ns"] < 4e9
    assert decode_hdr(result["histograms"]["latency"]["hdr"])[0] == c["completed"]

    lines = log_path.read_text().splitlines()
    assert "#[Histogram log format version 1.3]" in lines[:3]
    assert any(l.startswith('"StartTimestamp"') for l in lines)
    data = [l for l in lines if l and not l.startswith("#") and not l.startswith('"')]
    latency_lines = [l for l in data if not l.startswith("Tag=")]
    assert len(latency_lines) >= 4
    total = sum(decode_hdr(l.split(",")[-1])[0] for l in latency_lines)
    assert total == c["completed"]
    assert not list(Path(tmp).glob("*.tmp.*")), "temporary files left behind"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_are_handled_like_ctrl_c(tmp, sig):
    server = Server(tmp)
    json_path = Path(tmp) / "run.json"
    proc = subprocess.Popen([BINARY, "--port", str(server.port), "--duration", "0", "--quiet",
                             "--json", str(json_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    got = server.stop()
    assert proc.returncode == 0, err
    result = json.loads(json_path.read_text())
    assert result["run"]["interrupted"] is True
    # Nothing measured is lost: what the server received is what the file says was sent.
    assert result["counters"]["sent"] == got["messages"] > 0
    assert "sent" in out and not list(Path(tmp).glob("*.tmp.*"))


def test_a_full_disk_is_reported_and_leaves_no_partial_file(tmp):
    """The result cannot be written (the file-size limit stands in for a full disk: the write
    fails with EFBIG instead of ENOSPC): the summary still prints, one line names --json and
    the reason, exit 1, and neither a truncated file nor the temporary file is left."""
    import resource

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))

    server = Server(tmp)
    json_path = Path(tmp) / "full.json"
    proc = subprocess.run([BINARY, "--port", str(server.port), "--devices", "2", "--msg", "10",
                           "--duration", "1s", "--quiet", "--json", str(json_path)],
                          preexec_fn=limit, capture_output=True, text=True, timeout=60)
    server.stop()
    assert proc.returncode == 1, proc.stderr
    assert f'load-tester: --json: could not write "{json_path}": File too large' in proc.stderr
    assert "messages    sent 20" in proc.stdout  # the summary is still there
    assert not json_path.exists() and not list(Path(tmp).glob("full.json*"))


def test_a_failed_worker_loses_nothing_the_others_measured(tmp):
    """One worker thread ends on an exception (injected through a test hook): the others run
    to the end, the failed one's counts up to its failure are kept, the files are complete,
    the reason is printed and recorded, exit 1."""
    server = Server(tmp)
    json_path = Path(tmp) / "run.json"
    proc = subprocess.run([BINARY, "--port", str(server.port), "--devices", "10", "--msg", "10",
                           "--duration", "3s", "--threads", "2", "--quiet", "--json",
                           str(json_path)], env={**os.environ, "LT_TEST_FAIL_WORKER": "1"},
                          capture_output=True, text=True, timeout=60)
    got = server.stop()
    assert proc.returncode == 1, proc.stderr
    assert "worker 1 failed: injected failure (test)" in proc.stderr
    result = json.loads(json_path.read_text())
    assert result["run"]["failures"] == ["worker 1: injected failure (test)"]
    c = result["counters"]
    assert c["sent"] == got["messages"]  # nothing the workers sent is missing from the file
    # Worker 0's five devices ran the whole 3 s; worker 1's five about one second.
    assert 150 + 40 <= c["sent"] <= 150 + 75, c["sent"]


def test_a_second_ctrl_c_exits_at_once_and_leaves_no_file(tmp):
    """The first Ctrl-C starts a clean stop; while it waits (at most 500 ms) for late echoes, a
    second one ends the process at once: said on stderr, no result file, no temporary file, an existing result file
    at the path untouched."""
    server = Server(tmp, echo=True, extra=["--delay", "20s"])
    json_path = Path(tmp) / "run.json"
    json_path.write_text("previous")
    proc = subprocess.Popen([BINARY, "--port", str(server.port), "--echo", "--devices", "5",
                             "--msg", "10", "--duration", "0", "--timeout", "30s", "--quiet",
                             "--json", str(json_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    # The clean stop waits up to 500 ms for the echoes on their way (none come: 20 s late).
    time.sleep(0.1)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 5
    server.stop()
    assert proc.returncode == -signal.SIGINT, err
    assert "interrupted again: exiting at once, no result file written" in err
    assert json_path.read_text() == "previous"
    assert not list(Path(tmp).glob("*.tmp.*")), "temporary files left behind"


def test_a_crashing_worker_leaves_no_partial_or_temporary_file(tmp):
    server = Server(tmp)
    json_path, log_path = Path(tmp) / "run.json", Path(tmp) / "run.hlog"
    json_path.write_text("previous")
    proc = subprocess.run([BINARY, "--port", str(server.port), "--devices", "4", "--msg", "10",
                           "--duration", "5s", "--threads", "2", "--quiet", "--json",
                           str(json_path), "--hdr-log", str(log_path)],
                          env={**os.environ, "LT_TEST_FAIL_WORKER": "0:crash"},
                          capture_output=True, text=True, timeout=60)
    server.stop()
    assert proc.returncode == -signal.SIGABRT, proc.stderr
    assert "load-tester: crashed: no result file written" in proc.stderr
    assert json_path.read_text() == "previous" and not log_path.exists()
    assert not list(Path(tmp).glob("*.tmp.*")), "temporary files left behind"


@needs_nft
def test_ctrl_c_while_connecting_stops_at_once_with_complete_files(tmp):
    """The target's SYNs vanish (nftables), so the devices are still connecting after a second
    of a 30 s --connect-timeout: Ctrl-C ends the wait at once, and the files say so."""
    port = free_port()
    json_path = Path(tmp) / "run.json"
    with blackhole(port):
        proc = subprocess.Popen([BINARY, "--port", str(port), "--devices", "5", "--msg", "20",
                                 "--duration", "10s", "--connect-timeout", "30s", "--json",
                                 str(json_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        time.sleep(1.0)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    assert took < 3, took
    assert proc.returncode == 0, err
    assert "interrupted while connecting: stopping" in err and "INTERRUPTED" in out
    result = json.loads(json_path.read_text())
    assert result["run"]["interrupted"] is True
    assert result["counters"]["sent"] == 0 and result["run"]["connected_at_start"] == 0
    assert not list(Path(tmp).glob("*.tmp.*"))
