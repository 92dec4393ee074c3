#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need. Idempotent.
#
# nginx is the HTTP server the http-sink tests and bench/http_vs_wrk.py start on free loopback
# ports with their own config (tests/integration/nginx.py); it is never used as a system service.
# On Debian 12 the `nginx` package itself holds the binary, built with the stub_status and ssl
# modules compiled in; nginx-light/-core/-full only add module packages on top of it. wrk is the
# reference HTTP load generator of the benchmark; openssl makes the test CA and certificates.
#
# mosquitto is the MQTT broker the mqtt-sink tests start the same way, one private instance on
# free loopback ports with its own config (tests/integration/mosquitto.py); mosquitto-clients
# brings mosquitto_sub/mosquitto_pub, which those tests read $SYS counters and subscribe with.
# Like nginx, its postinst would start a system broker (on port 1883): the policy-rc.d below
# forbids that too.
#
# nats-server (Debian 12: 2.9.10, /usr/sbin/nats-server) is the NATS server the nats-sink tests
# start the same way (tests/integration/nats.py). The package ships the binary, a sample
# /etc/nats-server.conf (127.0.0.1:4222) and a nats-server.service unit run as user `nats`; its
# postinst adds that user, enables the unit and would start it (on port 4222): the policy-rc.d
# below forbids the start. The unit stays enabled, so a systemd machine starts it at the next
# boot; the tests never use it or its port.
#
# rabbitmq-server (Debian 12: 3.10.8 on Erlang/OTP 25) is the AMQP 0-9-1 broker the amqp-sink
# tests start the same way, one private node per test module with its own name, config, data
# and log directories and free loopback ports (tests/integration/rabbitmq.py); amqp-tools brings
# amqp-publish/amqp-declare-queue/amqp-get, which the harness and its tests use. Its postinst
# adds a `rabbitmq` user, enables rabbitmq-server.service and would start the system node
# (rabbit@HOST on ports 5672 and 25672, with epmd on port 4369, which a node started as a
# daemon leaves running after it): the policy-rc.d below forbids the start. The harness never uses that
# service, its cookie or port 4369: it runs its own epmd on a free port (ERL_EPMD_PORT) and ends
# it with the node.
#
# librdkafka-dev (Debian 12: 2.0.2) is the Kafka client the kafka sink links; its rdkafka_mock.h
# is the Kafka-protocol mock cluster the kafka tests start (no Kafka broker is packaged for
# Debian). kcat reads topics back in those tests, as an outside consumer.
#
# nftables lets the fault tests (as root) drop one loopback port's packets for a few seconds in a
# table of their own, to make a peer vanish without closing (a half-open connection).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libcli11-dev libfmt-dev nlohmann-json3-dev zlib1g-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pytest procps
  nginx openssl wrk
  mosquitto mosquitto-clients
  nats-server
  rabbitmq-server amqp-tools
  librdkafka-dev kcat
  openmpi-bin
  nftables
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # nginx's, mosquitto's, nats-server's and rabbitmq-server's postinsts would start a system
  # nginx on port 80 and system servers on ports 1883, 4222 and 5672 (plus epmd on 4369).
  # Nothing here needs them, so while installing, a policy-rc.d (honoured by invoke-rc.d and
  # deb-systemd-invoke) forbids starting services; it is removed afterwards unless the machine
  # already had one.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    trap '$SUDO rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# temporary, from load-tester scripts/install-deps.sh\nexit 101\n' |
      $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
