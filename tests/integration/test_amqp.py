"""The AMQP sink against a real RabbitMQ node (tests/integration/rabbitmq.py): confirmed counts
checked against the broker's queues, consumers end to end, exchanges and bindings declared by
the tool, returns, persistence, credentials, vhosts, TLS, a memory alarm (connection.blocked),
1,000 connections, a broker that is down, killed or stalled, and bad input. One node serves the
module (it takes seconds to start); tests that kill it start their own."""
import json
import signal
import time

import pytest

from conftest import SANITIZED, assert_usage_error, free_port, run_tool, start_tool, stopped

SCALE = 0.2 if SANITIZED else 1.0


def summary(run):
    return "\n".join(line for line in run.stdout.splitlines() if not line.startswith("["))


def url(broker, vhost="", user=None, tls=False):
    scheme, port = ("amqps", broker.tls_port) if tls else ("amqp", broker.port)
    return f"{scheme}://{user + '@' if user else ''}127.0.0.1:{port}/{vhost}"


def test_100_devices_at_100_confirmed_equals_sent_equals_the_queue(tmp, rabbitmq_module):
    broker = rabbitmq_module
    rate = int(100 * SCALE)
    run = run_tool(tmp, ["--url", url(broker), "--queue", "must-show", "--declare", "--devices",
                         "100", "--msg", str(rate), "--duration", "10s", "--quiet"], timeout=120)
    assert run.returncode == 0, run.stderr
    c = run.counters
    target = 100 * rate * 10
    assert c["sent"] == target and c["missed"] == 0, summary(run)
    # Every message confirmed by the broker, and the queue holds exactly that many.
    assert c["completed"] == c["sent"] and c["lost"] == 0 and c["err_rejected"] == 0, summary(run)
    assert broker.wait_queue("must-show", lambda n: n == target, timeout=20) == target
    achieved = run.result["rate"]["achieved"]
    assert abs(achieved / (100 * rate) - 1) <= 0.005, summary(run)
    latency = run.result["histograms"]["latency"]
    assert latency["count"] == c["completed"]
    assert 0 < latency["percentiles"]["p50"] <= latency["percentiles"]["p99"] <= latency["max"]
    assert run.result["options"]["amqp"]["confirm"] is True
    assert "the broker's confirm (basic.ack)" in run.stdout
    broker.delete_queue("must-show")


def test_consumers_receive_every_message_once(tmp, rabbitmq_module):
    broker = rabbitmq_module
    rate = int(100 * SCALE)
    run = run_tool(tmp, ["--url", url(broker), "--queue", "e2e.{device}", "--declare",
                         "--auto-delete", "--consumers", "4", "--devices", "50", "--msg",
                         str(rate), "--duration", "5s", "--threads", "2", "--quiet"], timeout=120)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["sent"] == 50 * rate * 5 and c["completed"] == c["sent"], summary(run)
    assert c["e2e_received"] == c["sent"] and c["e2e_duplicates"] == 0, summary(run)
    e2e = run.result["histograms"]["e2e"]
    assert e2e["count"] == c["sent"]
    assert 0 < e2e["percentiles"]["p50"] <= e2e["percentiles"]["p99"] <= e2e["max"], e2e
    assert "end to end  received" in run.stdout
    # Auto-delete queues went with their consumers: nothing was left behind unread.
    assert not [q for q in broker.queues() if q.startswith("e2e.")]


def test_consumers_share_one_queue(tmp, rabbitmq_module):
    run = run_tool(tmp, ["--url", url(rabbitmq_module), "--queue", "shared", "--declare",
                         "--auto-delete", "--consumers", "3", "--threads", "1", "--devices", "6",
                         "--msg", "50", "--duration", "2s", "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["e2e_received"] == c["sent"] == 600 and c["e2e_duplicates"] == 0, summary(run)


def test_confirm_off_fire_and_forget(tmp, rabbitmq_module):
    broker = rabbitmq_module
    run = run_tool(tmp, ["--url", url(broker), "--queue", "nocf", "--declare", "--confirm", "off",
                         "--devices", "10", "--msg", "100", "--duration", "2s", "--quiet"],
                   timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["completed"] == c["sent"] == 2000, summary(run)
    assert broker.wait_queue("nocf", lambda n: n == 2000) == 2000
    assert "handed to the kernel" in run.stdout
    broker.delete_queue("nocf")


def test_persistent_messages_in_a_durable_queue(tmp, rabbitmq_module):
    broker = rabbitmq_module
    run = run_tool(tmp, ["--url", url(broker), "--queue", "durable-q", "--declare", "--durable",
                         "--persistent", "--devices", "5", "--msg", "20", "--duration", "1s",
                         "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.counters["completed"] == run.counters["sent"] == 100, summary(run)
    rows = json.loads(broker.ctl("list_queues", "name", "durable", "messages_persistent",
                                 "--formatter", "json"))
    row = next(r for r in rows if r["name"] == "durable-q")
    assert row["durable"] is True and row["messages_persistent"] == 100, row
    broker.delete_queue("durable-q")


def test_topic_exchange_routes_each_devices_key(tmp, rabbitmq_module):
    broker = rabbitmq_module
    # Each device binds the one queue with its own key: every device's messages arrive.
    run = run_tool(tmp, ["--url", url(broker), "--exchange", "lt.topic", "--declare",
                         "--exchange-type", "topic", "--routing-key", "dev.{device}", "--queue",
                         "topic-q", "--mandatory", "--devices", "8", "--msg", "25", "--duration",
                         "2s", "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["completed"] == c["sent"] == 400 and c["err_returned"] == 0, summary(run)
    assert broker.wait_queue("topic-q", lambda n: n == 400) == 400
    bindings = broker.ctl("list_bindings", "source_name", "routing_key")
    assert "dev.7" in bindings and "dev.0" in bindings
    broker.delete_queue("topic-q")


def test_unroutable_messages_are_returned(tmp, rabbitmq_module):
    run = run_tool(tmp, ["--url", url(rabbitmq_module), "--routing-key", "nobody-{device}",
                         "--mandatory", "--devices", "5", "--msg", "20", "--duration", "1s",
                         "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    # Returned, then confirmed: counted as returned, not completed, and not lost.
    assert c["err_returned"] == c["sent"] == 100, summary(run)
    assert c["completed"] == 0 and c["lost"] == 0, summary(run)
    assert "returned 100" in run.stdout


def test_closed_loop(tmp, rabbitmq_module):
    broker = rabbitmq_module
    run = run_tool(tmp, ["--url", url(broker), "--queue", "closed", "--declare", "--auto-delete",
                         "--consumers", "1", "--threads", "1", "--devices", "4", "--rate", "max",
                         "--inflight", "16", "--duration", "2s", "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["completed"] == c["sent"] > 1000 and c["lost"] == 0, summary(run)
    assert c["e2e_received"] == c["sent"], summary(run)
    assert run.result["rate"]["closed_loop"] is True


def test_credentials_user_in_url_password_from_file(tmp, rabbitmq_module):
    broker = rabbitmq_module
    run = run_tool(tmp, ["--url", url(broker, user=broker.username), "--password-file",
                         str(broker.password_file), "--queue", "auth-q", "--declare",
                         "--auto-delete", "--devices", "2", "--msg", "10", "--duration", "1s",
                         "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.counters["completed"] == run.counters["sent"] == 20, summary(run)
    assert broker.password not in run.stdout + run.stderr
    assert broker.password not in json.dumps(run.result)


def test_wrong_password_is_refused_once_and_never_shown(tmp, rabbitmq_module, monkeypatch):
    monkeypatch.setenv("LT_PASSWORD", "not-the-password")
    run = run_tool(tmp, ["--url", url(rabbitmq_module), "--username",
                         rabbitmq_module.username, "--devices", "3", "--duration", "1s"],
                   timeout=60)
    assert run.returncode == 1, summary(run)
    assert run.stderr.count("ACCESS_REFUSED") == 1, run.stderr
    assert "not-the-password" not in run.stdout + run.stderr + json.dumps(run.result)
    c = run.counters
    assert c["err_broker"] >= 3 and c["sent"] == 0, c


def test_vhosts(tmp, rabbitmq_module):
    broker = rabbitmq_module
    broker.add_vhost("lt-vhost")
    run = run_tool(tmp, ["--url", url(broker, "lt-vhost"), "--queue", "vq", "--declare",
                         "--devices", "2", "--msg", "10", "--duration", "1s", "--quiet"],
                   timeout=60)
    assert run.returncode == 0, run.stderr
    assert broker.wait_queue("vq", lambda n: n == 20, vhost="lt-vhost") == 20
    assert "vq" not in broker.queues()
    unknown = run_tool(tmp, ["--url", url(broker, "no-such-vhost"), "--devices", "2",
                             "--duration", "1s"], timeout=60)
    assert unknown.returncode == 1, summary(unknown)
    assert "530 NOT_ALLOWED - vhost no-such-vhost not found" in unknown.stderr


def test_missing_exchange_closes_the_channel_and_is_counted(tmp, rabbitmq_module):
    run = run_tool(tmp, ["--url", url(rabbitmq_module), "--exchange", "no-such-exchange",
                         "--devices", "2", "--msg", "10", "--duration", "1s"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["err_broker"] >= 2 and c["completed"] == 0, c
    assert c["sent"] == c["lost"], c  # published, never confirmed
    assert "404 NOT_FOUND - no exchange 'no-such-exchange'" in run.stderr


def test_one_devices_channel_error_does_not_hold_up_the_others(tmp, rabbitmq_module):
    broker = rabbitmq_module
    # Queue iso.3 exists durable; the run declares its queues non-durable: the broker closes
    # device 3's channel (406 PRECONDITION_FAILED) each time it tries, the others run.
    broker.declare_queue("iso.3", durable=True)
    run = run_tool(tmp, ["--url", url(broker), "--queue", "iso.{device}", "--declare",
                         "--devices", "5", "--msg", "50", "--duration", "3s", "--threads", "1",
                         "--connect-timeout", "1s"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["err_broker"] >= 2 and c["missed"] == 150, summary(run)
    assert c["sent"] == c["completed"] == 4 * 150 and c["lost"] == 0, summary(run)
    assert "406 PRECONDITION_FAILED" in run.stderr
    queues = broker.queues()
    assert [queues[f"iso.{d}"] for d in (0, 1, 2, 4)] == [150] * 4 and queues["iso.3"] == 0
    for d in range(5):
        broker.delete_queue(f"iso.{d}")


def test_tls(tmp, rabbitmq_module):
    broker = rabbitmq_module
    run = run_tool(tmp, ["--url", url(broker, tls=True), "--ca-file", str(broker.ca_file),
                         "--queue", "tls-q", "--declare", "--auto-delete", "--consumers", "1",
                         "--threads", "1", "--devices", "3", "--msg", "20", "--duration", "1s",
                         "--quiet"], timeout=60)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["completed"] == c["sent"] == c["e2e_received"] == 60, summary(run)
    assert run.result["histograms"]["tls_handshake"]["count"] == 4  # 3 devices and the consumer
    unverified = run_tool(tmp, ["--url", url(broker, tls=True), "--devices", "1", "--duration",
                                "1s"], timeout=60)
    assert unverified.returncode == 1
    assert "certificate verify failed" in unverified.stderr


def test_memory_alarm_blocks_publishers_and_the_backlog_shows_it(tmp, rabbitmq_module):
    broker = rabbitmq_module
    proc, json_path = start_tool(tmp, ["--url", url(broker), "--queue", "blocked-q", "--declare",
                                       "--devices", "5", "--msg", "50", "--duration", "8s",
                                       "--timeout", "5s", "--quiet"])
    # --timeout 5s: on a loaded machine the broker's connection.blocked may come later than
    # the default 1 s confirm deadline of the publish that provoked it.
    time.sleep(2)
    broker.block()
    try:
        time.sleep(3)
    finally:
        broker.unblock()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(json_path.read_text())
    c = result["counters"]
    # Every connection was told, none was dropped, and what the broker held back shows as
    # missed messages and as latency of the order of the block.
    assert c["blocked"] == 5 and c["disconnects"] == 0, c
    assert c["missed"] > 0 and c["completed"] + c["lost"] == c["sent"], c
    assert c["sent"] + c["missed"] == 5 * 50 * 8, c
    assert result["histograms"]["latency"]["max"] >= 2_000_000_000, result["histograms"]
    assert "blocked publishing (connection.blocked: low on memory)" in err
    broker.delete_queue("blocked-q")


def test_stalled_broker_times_out_confirms(tmp, rabbitmq_module):
    broker = rabbitmq_module
    proc, json_path = start_tool(tmp, ["--url", url(broker), "--queue", "stall-q", "--declare",
                                       "--devices", "5", "--msg", "20", "--duration", "8s",
                                       "--timeout", "1s", "--quiet"])
    time.sleep(2)
    with stopped(broker.proc.pid):
        time.sleep(3)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    c = json.loads(json_path.read_text())["counters"]
    # Unconfirmed past --timeout: the connections were given up and came back.
    assert c["err_timeout"] >= 5 and c["reconnects"] >= 5, c
    assert c["sent"] + c["missed"] == 5 * 20 * 8, c
    assert c["completed"] + c["lost"] == c["sent"], c
    broker.delete_queue("stall-q")


@pytest.mark.skipif(SANITIZED, reason="1,000 connections: normal build only")
def test_1000_connections(tmp, rabbitmq_module):
    broker = rabbitmq_module
    run = run_tool(tmp, ["--url", url(broker), "--queue", "many", "--declare", "--devices",
                         "1000", "--msg", "5", "--connect-rate", "500", "--connect-timeout",
                         "30s", "--duration", "4s", "--quiet"], timeout=180)
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert run.result["run"]["connected_at_start"] == 1000, summary(run)
    assert c["completed"] == c["sent"] == 20000 and c["lost"] == 0, summary(run)
    assert broker.wait_queue("many", lambda n: n == 20000, timeout=30) == 20000
    broker.delete_queue("many")


def test_broker_down_at_start(tmp):
    run = run_tool(tmp, ["--url", f"amqp://127.0.0.1:{free_port()}/", "--devices", "3",
                         "--duration", "1s"], timeout=60)
    assert run.returncode == 1
    c = run.counters
    assert c["err_refused"] >= 3 and c["sent"] == 0 and c["missed"] == 6, c


def test_broker_killed_mid_run_and_back(tmp, rabbitmq):
    # The run lasts until the broker is back and has been for 4 s: a restart takes 7 s here,
    # and longer when the machine is loaded (sanitizer builds).
    proc, json_path = start_tool(tmp, ["--url", url(rabbitmq), "--queue", "kq", "--declare",
                                       "--durable", "--devices", "10", "--msg", "20",
                                       "--duration", "0", "--quiet"])
    time.sleep(2)
    rabbitmq.kill()
    rabbitmq.restart()  # the devices keep retrying with backoff meanwhile
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    result = json.loads(json_path.read_text())
    c = result["counters"]
    assert c["disconnects"] >= 10 and c["reconnects"] >= 10, c
    assert c["err_refused"] > 0, c
    # Every due message is accounted for (each device's schedule is cut by the interrupt at
    # most one message from the total's share), every sent one confirmed or lost.
    due = 10 * 20 * result["run"]["elapsed_ns"] / 1e9
    assert abs(c["sent"] + c["missed"] - due) <= 10, (c, due)
    assert c["completed"] + c["lost"] == c["sent"], c
    # The last full seconds, after the restart, confirm again.
    tail = result["intervals"][-3:-1]
    assert sum(p["counters"]["completed"] for p in tail) > 0, result["intervals"]


@pytest.mark.parametrize("args,flag", [
    (["--sink", "amqp", "--confirm", "maybe"], "--confirm"),
    (["--sink", "amqp", "--exchange-type", "topic"], "--exchange-type"),
    (["--sink", "amqp", "--queue", "x" * 256], "--queue"),
    (["--sink", "amqp", "--heartbeat", "70000s"], "--heartbeat"),
    (["--url", "amqp://u:secret@h/"], "--url"),
    (["--url", "amqp://h/a/b"], "--url"),
    (["--sink", "amqp", "--consumers", "2"], "--consumers"),
    (["--sink", "amqp", "--subscribers", "2"], "--subscribers"),
    (["--sink", "tcp", "--mandatory"], "--mandatory"),
    (["--sink", "amqp", "--echo"], "--echo"),
])
def test_bad_input(tmp, args, flag):
    run = run_tool(tmp, args, timeout=30)
    assert_usage_error(run, args, flag)
    assert "secret" not in run.stderr or flag != "--url"


def test_noexec_shows_the_plan(tmp):
    run = run_tool(tmp, ["--url", "amqp://127.0.0.1:5999/prod", "--exchange", "ex", "--declare",
                         "--devices", "3", "--noexec"], timeout=30)
    assert run.returncode == 0, run.stderr
    assert "amqp         vhost prod as guest, to exchange ex with key load-tester" in run.stdout
    assert "declares direct exchange ex, queue load-tester" in run.stdout, run.stdout
