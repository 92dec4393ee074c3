"""A Kafka-protocol cluster for the tests: tests/tools/kafka_mock.cpp (librdkafka's mock
cluster, since Debian packages no Kafka broker) in its own process, told what to break through
its stdin. Each command is answered before the call returns, so a fault is in effect when the
test goes on."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MOCK = os.environ.get("LT_KAFKA_MOCK", str(ROOT / "build" / "tests" / "lt-kafka-mock"))


class KafkaMock:
    def __init__(self, brokers=3):
        self.proc = subprocess.Popen([MOCK, str(brokers)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("bootstrap "), f"mock cluster did not start: {line!r}"
        self.bootstrap = line.split()[1]

    def port(self, broker):
        """The TCP port of broker `broker` (ids from 1): the mock lists its brokers in id order."""
        return int(self.bootstrap.split(",")[broker - 1].rsplit(":", 1)[1])

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == "ok", f"{line}: {answer}"

    def down(self, broker):
        self.command(f"down {broker}")

    def up(self, broker):
        self.command(f"up {broker}")

    def rtt(self, broker, ms):
        """Broker `broker` answers every request `ms` milliseconds late (0 puts it back)."""
        self.command(f"rtt {broker} {ms}")

    def errors(self, api, count, code):
        """The next `count` requests of `api` (Produce, Metadata, ...) fail with `code`."""
        self.command(f"err {api} {count} {code}")

    def create(self, topic, partitions, replication=1):
        self.command(f"create {topic} {partitions} {replication}")

    def leader(self, topic, partition, broker):
        self.command(f"leader {topic} {partition} {broker}")

    def topic_led_by(self, broker, topic, partitions=3):
        """A new topic whose every partition `broker` leads (the mock elects no other when it
        fails, so a fault there reaches every device); returns the broker's port."""
        self.create(topic, partitions)
        for partition in range(partitions):
            self.leader(topic, partition, broker)
        return self.port(broker)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self):
        self.proc.kill()
        self.proc.wait()
