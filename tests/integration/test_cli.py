"""Bad input: one clear line naming the flag, exit code 2. --noexec plans and connects nowhere."""
import os
import resource
import subprocess

import pytest

from conftest import BINARY, Server, assert_usage_error


def lt(*args, **kw):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=60, **kw)


@pytest.mark.parametrize("args, flag", [
    (["--devices", "0"], "--devices"),
    (["--devices", "abc"], "--devices"),
    (["--msg", "0"], "--msg"),
    (["--msg", "-5"], "--msg"),
    (["--payload", "0"], "--payload"),
    (["--payload", "16"], "--payload"),
    (["--sink", "udp", "--payload", "64KiB"], "--payload"),
    (["--duration", "10parsecs"], "--duration"),
    (["--port", "70000"], "--port"),
    (["--sink", "carrier-pigeon"], "--sink"),
    (["--hostname", "no such host!"], "--hostname"),
    (["--update", "1ns"], "--update"),
    (["--msg", "10", "--rate", "100"], "--rate"),
    (["--arrival", "sometimes"], "--arrival"),
    (["--no-such-flag"], "--no-such-flag"),
])
def test_bad_input_is_one_line_naming_the_flag_with_exit_2(args, flag):
    r = lt(*args, "--duration", "1s") if "--duration" not in args else lt(*args)
    assert_usage_error(r, args, flag)
    assert r.stdout == ""


def _value_flags(*command):
    """(flag, sink) for every flag of --help that takes a value, with each sink it is for (its
    description starts "mqtt, nats: ..."; none named: the default tcp)."""
    import re
    text = lt(*command, "--help").stdout
    for line in text.splitlines():
        m = re.match(r"\s+(?:-\w,)?(--[\w-]+) (\S+)\s+(.*)", line)
        if not m or not (m.group(2).isupper() or "|" in m.group(2)):
            continue
        named = re.match(r"((?:http|mqtt|nats|amqp|kafka)(?:, (?:http|mqtt|nats|amqp|kafka))*)\b",
                         m.group(3))
        for sink in named.group(1).split(", ") if named else ["tcp"]:
            yield m.group(1), sink


SWEEP_VALUES = ["", "-1", "x", "99999999999999999999", "1e999", "\x7f{", "}", "a b", "1h1h"]


def test_every_value_flag_takes_garbage_with_one_line_naming_it(tmp):
    """A sweep of the whole flag table (not a list that falls behind it): each value flag, for
    each sink it serves, given values of every wrong shape. Each either is a valid value (exit
    0 with --noexec: names, paths, templates) or is refused in one line naming that flag, exit
    2; never a crash, a hang or another flag's name."""
    flags = list(_value_flags())
    assert len(flags) >= 60, flags  # the parse of --help still finds the table
    for flag, sink in flags:
        for value in SWEEP_VALUES:
            args = ([] if flag == "--sink" else ["--sink", sink]) + [f"{flag}={value}", "--noexec"]
            r = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=30,
                               cwd=tmp)
            assert r.returncode in (0, 2), (args, r.returncode, r.stderr)
            if r.returncode == 2:
                assert_usage_error(r, args, flag)
                assert r.stderr.startswith("load-tester: "), r.stderr


def test_every_serve_value_flag_takes_garbage_with_one_line_naming_it(tmp):
    """The same sweep for serve, which has no --noexec: a value it takes starts the server (on
    a free port), which is then stopped."""
    import select
    flags = [flag for flag, _ in _value_flags("serve")]
    assert len(flags) >= 9, flags
    for flag in flags:
        for value in SWEEP_VALUES:
            args = ["serve", f"{flag}={value}"] + ([] if flag == "--port" else ["--port", "0"])
            proc = subprocess.Popen([BINARY, *args], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=tmp)
            ready, _, _ = select.select([proc.stdout], [], [], 10)
            assert ready, (args, "neither listening nor refused in 10 s")
            if "listening on" in proc.stdout.readline():
                proc.terminate()
                proc.communicate(timeout=10)
                continue
            out, err = proc.communicate(timeout=10)
            r = subprocess.CompletedProcess(args, proc.returncode, out, err)
            assert_usage_error(r, args, flag)
            assert err.startswith("load-tester: "), err


@pytest.mark.parametrize("args, flag", [
    (["--sink", "mqtt", "--username", "u", "--password-file"], "--password-file"),
    (["--sink", "amqp", "--username", "u", "--password-file"], "--password-file"),
    (["--sink", "nats", "--token-file"], "--token-file"),
    (["--sink", "http", "--header-file"], "--header-file"),
])
@pytest.mark.parametrize("content", ["", "\n"], ids=["empty", "newline"])
def test_a_secret_file_with_nothing_in_it_is_refused(tmp, args, flag, content):
    path = os.path.join(tmp, "secret")
    with open(path, "w") as f:
        f.write(content)
    r = lt(*args, path, "--noexec")
    assert_usage_error(r, args, flag)
    assert "empty" in r.stderr or "no header" in r.stderr, r.stderr


@pytest.mark.parametrize("args, flag", [
    (["--hostname", "does-not-exist.invalid"], "--hostname"),
    (["--sink", "udp", "--hostname", "no-such-host.invalid"], "--hostname"),
    (["--sink", "udp", "--echo", "--hostname", "no-such-host.invalid"], "--hostname"),
    (["--url", "http://no-such-host.invalid:8080/"], "--url"),
    (["--url", "mqtt://no-such-host.invalid"], "--url"),
    (["--url", "nats://no-such-host.invalid"], "--url"),
    (["--url", "amqp://no-such-host.invalid/"], "--url"),
], ids=["tcp", "udp", "udp-echo", "http-url", "mqtt-url", "nats-url", "amqp-url"])
def test_unresolvable_host_name_is_a_usage_error(tmp, args, flag):
    """A name that does not resolve (.invalid never does, RFC 6761) stops the tool before the
    run: one line naming the flag and the name, exit 2, no summary and no result file."""
    json_path = os.path.join(tmp, "run.json")
    r = lt(*args, "--duration", "1s", "--json", json_path)
    assert_usage_error(r, args, flag)
    assert "cannot resolve" in r.stderr and ".invalid" in r.stderr, r.stderr
    assert r.stdout == ""
    assert not os.path.exists(json_path)


def test_devices_beyond_the_descriptor_limit_are_refused_before_starting():
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    r = lt("--devices", "5000", "--duration", "1s", preexec_fn=low_limit)
    assert r.returncode == 2, r.stderr
    assert "--devices" in r.stderr and "limit" in r.stderr


def test_descriptors_inherited_from_the_parent_count_against_the_limit(tmp):
    """20 devices fit a limit of 120 (20 + 64 spare), but not beside 60 descriptors a parent
    left open: refused before the run instead of failing connections with EMFILE."""
    server = Server(tmp)
    def limit_120():
        resource.setrlimit(resource.RLIMIT_NOFILE, (120, 120))
    common = ["--devices", "20", "--msg", "1", "--duration", "1s", "--port", str(server.port),
              "--quiet"]
    assert lt(*common, preexec_fn=limit_120).returncode == 0
    pipes = [os.pipe() for _ in range(30)]
    try:
        fds = [fd for pair in pipes for fd in pair]
        r = lt(*common, preexec_fn=limit_120, pass_fds=fds)
    finally:
        for fd in (fd for pair in pipes for fd in pair):
            os.close(fd)
    server.stop()
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("load-tester: --devices: 20 connections need ")
    assert "open already) but the limit is 120" in r.stderr


def test_unwritable_result_file_is_reported_before_the_run(tmp):
    r = lt("--json", "/nonexistent-dir/run.json", "--duration", "1s")
    assert r.returncode == 2 and "--json" in r.stderr
    # A directory is refused before the run, not found at the rename after it; no server runs,
    # so an attempt to connect would show as a connect error, not as exit 2.
    for flag in ("--json", "--hdr-log"):
        r = lt(flag, tmp, "--duration", "1s", "--port", "1")
        assert r.returncode == 2, r.stderr
        assert r.stderr == f'load-tester: {flag}: cannot write "{tmp}": Is a directory\n'
    assert os.listdir(tmp) == []


def test_go_style_single_dash_flags_are_accepted(tmp):
    server = Server(tmp)
    r = lt("-devices", "3", "-msg=5", "-duration", "1s", "-port", str(server.port), "-quiet")
    got = server.stop()
    assert r.returncode == 0, r.stderr
    assert got["messages"] == 15


def test_noexec_prints_the_plan_and_connects_to_nothing(tmp):
    server = Server(tmp)
    r = lt("--noexec", "--devices", "1000", "--msg", "100", "--duration", "10s", "--port",
           str(server.port))
    got = server.stop()
    assert r.returncode == 0, r.stderr
    for word in ("workers", "per device", "100000/s", "1000000 messages", "feasible", "overshoot"):
        assert word in r.stdout, (word, r.stdout)
    assert got["connections"] == 0


def test_help_and_version():
    assert lt("--help").returncode == 0
    r = lt("--version")
    assert r.returncode == 0 and r.stdout.strip()
