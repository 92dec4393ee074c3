"""The Kafka sink against librdkafka's mock cluster (tests/integration/kafka_mock.py; no Kafka
broker is packaged for Debian) over loopback TCP: delivered counts read back by kcat and by the
tool's own consumers, broker errors injected, brokers taken down and the cluster killed, bad
input. Each test has its own 3-broker cluster."""
import collections
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import (Run, SANITIZED, SANITIZER, assert_usage_error, free_port, run_tool,
                      share_above, start_tool)
from netfault import blackhole, needs_nft, reset

SCALE = 0.2 if SANITIZED else 1.0

# Debian's librdkafka starts its threads with C11 thrd_create, which GCC 12's ThreadSanitizer
# does not intercept: the first allocation on such a thread crashes inside the TSan runtime
# (seen: SIGSEGV in SizeClassAllocator64LocalCache::Allocate from getaddrinfo on rdk:broker-1).
# Tests that start a producer or consumer therefore run in the normal and ASan+UBSan builds only;
# option checks, which start no librdkafka thread, run under TSan too.
producing = pytest.mark.skipif(SANITIZER == "thread",
                               reason="librdkafka's C11 threads crash GCC 12's TSan runtime")


def summary(run):
    return "\n".join(line for line in run.stdout.splitlines() if not line.startswith("["))


def kcat_keys(bootstrap, topic, expect, timeout=60):
    """(key, partition) of every message in the topic, read by kcat from the beginning."""
    out = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                          "-q", "-f", "%k %p\\n"], capture_output=True, text=True,
                         timeout=timeout, check=True).stdout
    rows = [line.split() for line in out.splitlines() if line]
    assert len(rows) == expect, f"kcat read {len(rows)} of {expect}"
    return rows


def run_during(tmp, kafka, args, after, action):
    """Runs the tool against the cluster; `after` seconds in, `action()` (a fault) happens.
    Returns the finished run and how long it took from the fault on."""
    proc, json_path = start_tool(tmp, ["--sink", "kafka", "--brokers", kafka.bootstrap, *args,
                                       "--quiet"])
    time.sleep(after)
    action()
    t0 = time.monotonic()
    out, err = proc.communicate(timeout=60)
    return Run(proc, out, err, json_path), time.monotonic() - t0


def held(fault, seconds):
    """An action for run_during: the fault (a context manager) held for `seconds`."""
    def action():
        with fault:
            time.sleep(seconds)
    return action


def accounted(run):
    """Every message sent ends one way: delivered, failed with a delivery error, or lost (purged
    at the end)."""
    failed = sum(n for code, n in run.result["error_codes"].items()
                 if code.startswith("delivery ") and "_PURGE_" not in code)
    return run.counters["completed"] + failed + run.counters["lost"]


@producing
def test_100_devices_at_100_delivered_equals_sent_and_kcat_reads_them_all(tmp, kafka):
    rate = int(100 * SCALE)
    run = run_tool(tmp, ["--sink", "kafka", "--brokers", kafka.bootstrap, "--topic", "must-show",
                         "--devices", "100", "--msg", str(rate), "--duration", "10s", "--quiet"])
    assert run.returncode == 0, run.stderr
    c = run.counters
    target = 100 * rate * 10
    assert c["sent"] == target and c["missed"] == 0, summary(run)
    assert c["completed"] == c["sent"] and c["lost"] == 0 and c["err_timeout"] == 0, summary(run)
    assert abs(run.result["rate"]["achieved"] / (100 * rate) - 1) <= 0.005, summary(run)
    latency = run.result["histograms"]["latency"]
    assert latency["count"] == target and latency["max"] >= latency["percentiles"]["p50"] > 0
    assert "the delivery report (acks all)" in run.stdout
    # Read back from outside: every message there once, and a key (the device) stays on one
    # partition, so each device's messages keep their order.
    rows = kcat_keys(kafka.bootstrap, "must-show", target)
    per_key = collections.Counter(k for k, _ in rows)
    assert len(per_key) == 100 and set(per_key.values()) == {rate * 10}
    partitions = collections.defaultdict(set)
    for key, partition in rows:
        partitions[key].add(partition)
    assert all(len(p) == 1 for p in partitions.values())
    assert len({p for ps in partitions.values() for p in ps}) > 1  # spread over partitions


@producing
def test_consumers_read_every_message_once_across_workers(tmp, kafka):
    rate = int(100 * SCALE)
    run = run_tool(tmp, ["--sink", "kafka", "--brokers", kafka.bootstrap, "--topic", "e2e",
                         "--consumers", "2", "--threads", "2", "--devices", "100", "--msg",
                         str(rate), "--duration", "5s", "--quiet"])
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["sent"] == 100 * rate * 5 and c["completed"] == c["sent"], summary(run)
    assert c["e2e_received"] == c["sent"] and c["e2e_duplicates"] == 0, summary(run)
    assert c["err_malformed"] == 0  # the other worker's messages are skipped, not errors
    e2e = run.result["histograms"]["e2e"]
    assert e2e["count"] == c["sent"] and e2e["percentiles"]["p50"] > 0
    assert "end to end  received" in run.stdout and "lost 0  duplicates 0" in run.stdout


@producing
def test_consumers_start_at_the_end_of_a_topic_with_history(tmp, kafka):
    # A first run fills the topic; the second run's consumers must not count it.
    first = run_tool(tmp, ["--sink", "kafka", "--brokers", kafka.bootstrap, "--topic", "again",
                           "--devices", "10", "--msg", "50", "--duration", "2s", "--quiet"])
    assert first.returncode == 0 and first.counters["completed"] == 1000
    run = run_tool(tmp, ["--sink", "kafka", "--brokers", kafka.bootstrap, "--topic", "again",
                         "--consumers", "1", "--devices", "10", "--msg", "50", "--duration", "2s",
                         "--quiet"])
    c = run.counters
    assert c["e2e_received"] == c["sent"] == 1000 and c["e2e_duplicates"] == 0, summary(run)


@producing
def test_retriable_broker_errors_are_retried_and_delivered(tmp, kafka):
    def inject():
        kafka.errors("Produce", 10, "LEADER_NOT_AVAILABLE")
        kafka.errors("Produce", 10, "REQUEST_TIMED_OUT")
        kafka.errors("Produce", 10, "NOT_LEADER_FOR_PARTITION")
    run, _ = run_during(tmp, kafka, ["--topic", "retry", "--devices", "20", "--msg", "50",
                                     "--duration", "5s"], 2, inject)
    c = run.counters
    assert run.returncode == 0
    # librdkafka retries these: nothing fails, the wait shows as latency.
    assert c["sent"] == 5000 and c["completed"] == c["sent"] and c["lost"] == 0, c
    assert c["err_rejected"] == 0 and c["err_timeout"] == 0
    assert run.result["histograms"]["latency"]["max"] >= 50_000_000  # retry.backoff.ms is 100


@producing
def test_non_retriable_errors_are_counted_by_code(tmp, kafka):
    run, _ = run_during(tmp, kafka, ["--topic", "denied", "--devices", "20", "--msg", "50",
                                     "--duration", "4s"], 1.5,
                        lambda: kafka.errors("Produce", 5, "TOPIC_AUTHORIZATION_FAILED"))
    out, err = run.stdout, run.stderr
    c = run.counters
    codes = run.result["error_codes"]
    assert codes.get("delivery TOPIC_AUTHORIZATION_FAILED", 0) > 0, codes
    assert c["err_rejected"] >= codes["delivery TOPIC_AUTHORIZATION_FAILED"]
    # Said once on stderr, however many messages failed.
    assert err.count("delivery failed: Broker: Topic authorization failed") == 1, err
    assert c["sent"] == accounted(run), c
    assert c["sent"] + c["missed"] == 4000, c  # refused at produce(): missed, never sent
    assert "by code" in out


@producing
def test_a_broker_down_and_back_delays_but_loses_nothing(tmp, kafka):
    # Every partition led by the broker that goes down: the mock elects no new leader, so the
    # outage must reach every device (an auto-created topic may put no leader on broker 1).
    kafka.topic_led_by(1, "outage")

    def outage():
        kafka.down(1)
        time.sleep(2)
        kafka.up(1)
    run, _ = run_during(tmp, kafka, ["--topic", "outage", "--devices", "50", "--msg", "100",
                                     "--duration", "10s", "-X", "reconnect.backoff.max.ms=500"],
                        2, outage)
    err = run.stderr
    c = run.counters
    assert run.returncode == 0, err
    assert c["sent"] == 50_000 and c["completed"] == c["sent"] and c["lost"] == 0, summary(run)
    broken = c["err_closed"] + c["err_refused"] + c["err_reset"] + c["err_send"]
    assert c["disconnects"] + broken >= 1, {k: v for k, v in c.items() if v}
    # The outage is in the latency (from the intended send time), not hidden.
    assert run.result["histograms"]["latency"]["max"] >= 1_000_000_000
    assert "_TRANSPORT" in err


@producing
def test_all_brokers_down_messages_time_out_and_the_run_ends(tmp, kafka):
    run, took = run_during(tmp, kafka, ["--topic", "dark", "--devices", "20", "--msg", "50",
                                        "--duration", "6s", "-X", "message.timeout.ms=1500"], 2,
                           lambda: [kafka.down(b) for b in (1, 2, 3)])
    assert took < 4 + 10  # the rest of the run plus a grace, no hang
    err = run.stderr
    c = run.counters
    assert run.returncode == 0, err
    assert c["err_timeout"] > 0, c
    assert run.result["error_codes"]["delivery _MSG_TIMED_OUT"] == c["err_timeout"]
    assert c["sent"] + c["missed"] == 6000 and c["sent"] == accounted(run), c


@producing
def test_slow_brokers_delay_every_message_but_lose_none(tmp, kafka):
    # Every broker answers 300 ms late for 3 s of an 8 s run: a stall, not an outage.
    def stall():
        for broker in (1, 2, 3):
            kafka.rtt(broker, 300)
        time.sleep(3)
        for broker in (1, 2, 3):
            kafka.rtt(broker, 0)
    run, took = run_during(tmp, kafka, ["--topic", "slow", "--devices", "20", "--msg", "50",
                                        "--duration", "8s"], 2, stall)
    assert took < 3 + 5  # the rest of the run plus a grace
    c = run.counters
    assert run.returncode == 0, run.stderr
    assert c["sent"] == 8000 and c["completed"] == c["sent"] and c["lost"] == 0, summary(run)
    assert c["err_timeout"] == 0 and c["req_timeouts"] == 0, c
    latency = run.result["histograms"]["latency"]
    assert latency["count"] == 8000 and latency["max"] >= 300_000_000, latency
    # A message sent in the stall waits for it: 3 s of 8 (~37%) is above 250 ms, not a few.
    assert share_above(latency["hdr"], 250_000_000) >= 0.15, latency["percentiles"]


@producing
def test_whole_cluster_down_and_back_delivers_everything_late(tmp, kafka):
    # Every broker down for 2 s; messages may wait 8 s (message.timeout.ms), so none expires.
    def outage():
        for broker in (1, 2, 3):
            kafka.down(broker)
        time.sleep(2)
        for broker in (1, 2, 3):
            kafka.up(broker)
    run, took = run_during(tmp, kafka, ["--topic", "blackout", "--devices", "20", "--msg", "50",
                                        "--duration", "8s", "-X", "message.timeout.ms=8000",
                                        "-X", "reconnect.backoff.max.ms=500"], 2, outage)
    assert took < 4 + 5
    err = run.stderr
    c = run.counters
    assert run.returncode == 0, err
    assert c["sent"] == 8000 and c["completed"] == c["sent"] and c["lost"] == 0, summary(run)
    assert c["err_timeout"] == 0, c
    # The outage is seen: connections dropped, reconnects refused while it lasts.
    assert c["disconnects"] >= 1 and c["err_refused"] >= 1, {k: v for k, v in c.items() if v}
    assert run.result["error_codes"].get("client _ALL_BROKERS_DOWN", 0) >= 1
    assert err.count("brokers are down") == 1, err
    # What was sent as the cluster went down waited for all of it to come back.
    assert run.result["histograms"]["latency"]["max"] >= 1_900_000_000


@producing
@needs_nft
def test_a_vanished_broker_times_out_requests_and_delivers_after(tmp, kafka):
    # The leader of every partition stops answering (its packets dropped, no FIN, no RST) for
    # 4 s: only socket.timeout.ms finds it. Connection attempts into the hole give up after 1 s,
    # so the producer is back soon after the path is.
    port = kafka.topic_led_by(1, "vanish")
    run, took = run_during(tmp, kafka, ["--topic", "vanish", "--devices", "20", "--msg", "50",
                                        "--duration", "10s", "-X", "socket.timeout.ms=2000",
                                        "-X", "socket.connection.setup.timeout.ms=1000",
                                        "-X", "reconnect.backoff.max.ms=500"], 2,
                           held(blackhole(port), 4))
    assert took < 4 + 5
    err = run.stderr
    c = run.counters
    assert run.returncode == 0, err
    assert c["req_timeouts"] >= 1 and c["disconnects"] >= 1, {k: v for k, v in c.items() if v}
    assert run.result["error_codes"].get("client _TIMED_OUT", 0) >= 1, run.result["error_codes"]
    assert f":{port}/1: " in err and "request(s) timed out" in err, err
    # Nothing is lost once the path is back: the timed-out requests are sent again.
    assert c["sent"] == 10_000 and c["completed"] == c["sent"] and c["lost"] == 0, summary(run)
    assert c["err_timeout"] == 0 and c["sent"] == accounted(run), c
    assert run.result["histograms"]["latency"]["max"] >= 3_000_000_000


@producing
@needs_nft
def test_a_leader_whose_connections_are_reset_reconnects_and_loses_nothing(tmp, kafka):
    # Every packet to the leader of every partition is answered with an RST for 1 s: the open
    # connection breaks on its next write, and each reconnect is refused while the rule holds.
    # librdkafka 2.0.2 reports the break in the words of a clean close: its receive path turns
    # ECONNRESET into "Disconnected", as for a FIN, so the reason text cannot tell the two apart
    # and the break is counted as closed (a reset seen on a send, "Send failed: Connection reset
    # by peer", would count as a reset). Either way it is a dropped connection, not a send error.
    port = kafka.topic_led_by(1, "reset")
    run, took = run_during(tmp, kafka, ["--topic", "reset", "--devices", "20", "--msg", "50",
                                        "--duration", "8s", "-X", "reconnect.backoff.max.ms=500"],
                           2, held(reset(port), 1))
    assert took < 5 + 3  # the rest of the run plus a grace: it ends on time
    err = run.stderr
    c = run.counters
    assert run.returncode == 0, err
    seen = {k: v for k, v in c.items() if v}
    assert c["disconnects"] >= 1 and c["err_closed"] + c["err_reset"] >= 1, seen
    assert c["err_refused"] >= 1, seen
    assert c["err_send"] == c["err_timeout"] == c["err_connect_timeout"] == 0, seen
    assert c["req_timeouts"] == 0, seen
    # Every transport error was sorted into one of those kinds, none left over as a send error.
    codes = run.result["error_codes"]
    assert codes.get("client _TRANSPORT", 0) == c["err_closed"] + c["err_reset"] + \
        c["err_refused"], (codes, seen)
    assert f":{port}/1: " in err and "_TRANSPORT" in err, err
    # Nothing is lost: what the reset interrupted is sent again once the leader takes
    # connections, and what was due meanwhile waits for that.
    assert c["sent"] == 8000 and c["missed"] == 0, summary(run)
    assert c["completed"] == c["sent"] and c["lost"] == 0, summary(run)
    assert c["sent"] == accounted(run), c
    assert run.result["histograms"]["latency"]["max"] >= 800_000_000


@producing
def test_cluster_down_at_start_counts_refusals_and_exits_1(tmp):
    port = free_port()
    t0 = time.monotonic()
    run = run_tool(tmp, ["--sink", "kafka", "--brokers", f"127.0.0.1:{port}", "--devices", "10",
                         "--msg", "10", "--duration", "2s", "--quiet"], timeout=30)
    assert time.monotonic() - t0 < 2 + 2 + 5  # connect timeout, the run, a grace
    assert run.returncode == 1, run.stderr
    c = run.counters
    assert c["sent"] == 0 and c["missed"] == 200 and c["err_refused"] >= 1, c
    assert run.result["run"]["connected_at_start"] == 0
    assert "Connection refused" in run.stderr and len(run.stderr.splitlines()) <= 3


@producing
def test_broker_name_that_does_not_resolve_exits_1_said_once(tmp):
    t0 = time.monotonic()
    run = run_tool(tmp, ["--sink", "kafka", "--brokers", "no-such-host.invalid:9092",
                         "--threads", "2", "--devices", "10", "--msg", "10", "--duration", "3s",
                         "--quiet"], timeout=30)
    assert time.monotonic() - t0 < 3 + 2 + 5  # connect timeout, the run, a grace: no hang
    assert run.returncode == 1, run.stderr
    c = run.counters
    assert c["sent"] == 0 and c["completed"] == 0 and c["missed"] == 300, c
    # Each of the two producers fails to resolve (and tries again): counted every time, as
    # unreachable, but said once.
    codes = run.result["error_codes"]
    assert codes.get("client _RESOLVE", 0) >= 2 and c["err_unreachable"] == codes["client _RESOLVE"]
    assert run.result["run"]["connected_at_start"] == 0
    err = run.stderr
    assert err.count("Failed to resolve 'no-such-host.invalid:9092'") == 1, err
    assert "nothing was sent" in err and len(err.splitlines()) <= 3, err


@producing
def test_cluster_killed_mid_run_no_crash_no_hang(tmp, kafka):
    run, took = run_during(tmp, kafka, ["--topic", "killed", "--devices", "20", "--msg", "50",
                                        "--duration", "5s"], 2, kafka.kill)
    assert took < 3 + 2 + 5
    err = run.stderr
    c = run.counters
    assert run.returncode == 0, err
    # What was not delivered when the cluster vanished is lost at the end (purged), not dropped.
    assert c["sent"] + c["missed"] == 5000 and c["sent"] == accounted(run), c
    assert c["lost"] > 0 and c["completed"] >= 1500, c


@producing
def test_interrupt_writes_complete_results(tmp, kafka):
    proc, json_path = start_tool(tmp, ["--sink", "kafka", "--brokers", kafka.bootstrap,
                                       "--devices", "10", "--msg", "100", "--duration", "0",
                                       "--quiet"])
    time.sleep(2.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    run = Run(proc, out, err, json_path)
    assert run.returncode == 0, err
    c = run.counters
    assert run.result["run"]["interrupted"] is True
    assert c["sent"] > 0 and c["sent"] == accounted(run), c


@producing
def test_producers_acks_and_properties(tmp, kafka):
    run = run_tool(tmp, ["--sink", "kafka", "--brokers", kafka.bootstrap, "--topic", "tuned-{device}",
                         "--devices", "12", "--msg", "100", "--duration", "2s", "--producers", "3",
                         "--acks", "1", "--key", "", "-X", "compression.type=lz4", "-X",
                         "linger.ms=1", "--quiet"])
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["sent"] == 2400 and c["completed"] == 2400, summary(run)
    k = run.result["options"]["kafka"]
    assert k["acks"] == "1" and k["producers"] == 3 and k["key"] == ""
    assert k["properties"] == {"compression.type": "lz4", "linger.ms": "1"}
    assert len(kcat_keys(kafka.bootstrap, "tuned-7", 200)) == 200


@producing
def test_secrets_from_a_config_file_are_used_and_never_shown(tmp, kafka):
    config = os.path.join(tmp, "kafka.properties")
    with open(config, "w") as f:
        f.write("# a secret librdkafka takes without SASL in use, and a setting that shows\n"
                "sasl.password=hunter2\nlinger.ms=1\n")
    run = run_tool(tmp, ["--sink", "kafka", "--brokers", kafka.bootstrap, "--devices", "5",
                         "--msg", "20", "--duration", "1s", "--kafka-config", config,
                         "--verbose"])
    assert run.returncode == 0, run.stderr
    assert run.counters["completed"] == 100
    text = json.dumps(run.result)
    assert "hunter2" not in text + run.stdout + run.stderr
    assert run.result["options"]["kafka"]["config_file"] == config


@producing
def test_closed_loop(tmp, kafka):
    run = run_tool(tmp, ["--sink", "kafka", "--brokers", kafka.bootstrap, "--devices", "10",
                         "--rate", "max", "--inflight", "50", "--duration", "2s", "--quiet"])
    assert run.returncode == 0, run.stderr
    c = run.counters
    assert c["sent"] > 1000 and c["completed"] == c["sent"], summary(run)
    assert "CLOSED LOOP" in run.stdout


def test_turning_tls_verification_off_through_x_is_warned(tmp):
    for prop, words in (("enable.ssl.certificate.verification=false", "not verified"),
                        ("ssl.endpoint.identification.algorithm=none", "not matched")):
        run = run_tool(tmp, ["--sink", "kafka", "-X", prop, "--noexec"])
        assert run.returncode == 0 and f"warning: -X {prop}" in run.stderr and words in run.stderr


def test_noexec_plan(tmp):
    run = run_tool(tmp, ["--sink", "kafka", "--brokers", "broker-1:9092,broker-2:9092",
                         "--devices", "1000", "--msg", "10", "-X", "compression.type=zstd",
                         "--consumers", "2", "--noexec"])
    assert run.returncode == 0, run.stderr
    assert "plan: kafka to brokers broker-1:9092,broker-2:9092" in run.stdout
    assert "-X compression.type=zstd" in run.stdout and "2 consumer(s)" in run.stdout


@pytest.mark.parametrize("args,flag", [
    (["-X", "no.such.property=1"], 'No such configuration property: "no.such.property"'),
    (["-X", "linger.ms=soon"], "-X: Invalid value"),
    (["-X", "linger.ms"], "-X: expected NAME=VALUE"),
    (["-X", "sasl.password=hunter2"], "--password-file"),
    (["-X", "bootstrap.servers=a:1"], "--brokers"),
    (["-X", "enable.idempotence=true", "--acks", "1"], "-X: librdkafka refused"),
    (["--hostname", "kafka"], "--hostname"),
    (["--brokers", "kafka"], "--brokers"),
    (["--brokers", "a:1,,b:2"], "--brokers"),
    (["--topic", "a/b"], "--topic"),
    (["--topic", "{nope}"], "--topic"),
    (["--acks", "2"], "--acks"),
    (["--producers", "0"], "--producers"),
    (["--echo"], "--echo"),
    (["--source-ip", "127.0.0.1"], "--source-ip"),
    (["--username", "u"], "--username"),
])
def test_bad_input_exit_2_naming_the_flag(tmp, args, flag):
    port = free_port()  # nothing listens: a check that let it through would try to connect
    r = run_tool(tmp, ["--sink", "kafka", "--brokers", f"127.0.0.1:{port}", *args,
                       "--duration", "1s"] if "--brokers" not in args and "--hostname" not in args
                 else ["--sink", "kafka", *args, "--duration", "1s"], timeout=30)
    assert_usage_error(r, args, flag)
    assert "hunter2" not in r.stderr


def test_kafka_flags_refused_with_other_sinks(tmp):
    for args in (["--brokers", "a:1"], ["-X", "linger.ms=1"], ["--acks", "1"]):
        r = run_tool(tmp, ["--sink", "tcp", *args], timeout=30)
        assert_usage_error(r, args, args[0])
