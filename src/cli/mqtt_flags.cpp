#include "cli/mqtt_flags.hpp"

#include "core/template.hpp"

namespace lt {

namespace {

constexpr Nanos kMaxKeepalive = 65535 * kSecond;  // a 16-bit count of seconds on the wire

NameTemplate check_template(const char* name, const std::string& text) {
  std::string why;
  auto t = NameTemplate::parse(text, why);
  if (!t) throw UsageError{fmt::format("{}: {}, got \"{}\"", name, why, text)};
  return *t;
}

// A topic name that publishes may use: no wildcards, no NUL, 1..65535 bytes once expanded.
void check_topic(const std::string& topic, const std::string& raw) {
  if (topic.empty() || topic.size() > 65535)
    throw UsageError{fmt::format("--topic: expected 1 to 65535 bytes, got \"{}\"", raw)};
  if (topic.find_first_of(std::string("+#\0", 3)) != std::string::npos)
    throw UsageError{
        fmt::format("--topic: a publish topic cannot hold '+', '#' or NUL, got \"{}\"", raw)};
}

void need_mqtt(Flags& f, const Options& o, const char* name) {
  if (f.given(name) && o.sink != "mqtt")
    throw UsageError{fmt::format("{}: only with --sink mqtt", name)};
}

}  // namespace

void add_mqtt_flags(Flags& f, CLI::App& app, Options& o) {
  f.value("--mqtt-version", "V", "mqtt: protocol 3.1.1 or 5 [3.1.1]");
  f.value("--qos", "N", "mqtt: 0, 1 (until PUBACK) or 2 (until PUBCOMP) [0]");
  f.value("--topic", "TEMPLATE",
          "mqtt, kafka: topic, {device} and {rank} expand [mqtt: load-tester/{device}, kafka: "
          "load-tester]");
  f.value("--client-id", "TEMPLATE", "mqtt: client id template [lt-{rank}-{device}]");
  f.value("--keepalive", "DURATION", "mqtt: keep-alive interval, 0 = off [60s]");
  app.add_flag("--retain", o.mqtt.retain, "mqtt: publish retained messages");
}

void validate_mqtt(Flags& f, Options& o) {
  for (const char* name : {"--mqtt-version", "--qos", "--client-id", "--keepalive", "--retain"})
    need_mqtt(f, o, name);
  if (f.given("--topic") && o.sink != "mqtt" && o.sink != "kafka")
    throw UsageError{"--topic: only with --sink mqtt or kafka"};
  if (o.sink != "mqtt") return;
  MqttOptions& m = o.mqtt;
  std::string version;
  f.choice("--mqtt-version", version, {"3.1.1", "5"}, "MQTT version");
  if (!version.empty()) m.version = version == "5" ? 5 : 4;
  f.count("--qos", m.qos, 0, 2);
  if (f.given("--topic")) m.topic = f.raw("--topic");
  const NameTemplate topic = check_template("--topic", m.topic);
  check_topic(topic.expand(0, 0), m.topic);
  if (f.given("--client-id")) m.client_id = f.raw("--client-id");
  const NameTemplate id = check_template("--client-id", m.client_id);
  if (o.devices > 1 && !id.uses_device())
    throw UsageError{
        fmt::format("--client-id: needs {{device}} with more than one device (a broker disconnects "
                    "duplicate ids), got \"{}\"",
                    m.client_id)};
  if (id.expand(0, 0).size() > 65535) f.fail("--client-id", "expected at most 65535 bytes");
  f.duration("--keepalive", m.keepalive, 0, kMaxKeepalive);
  if (m.keepalive % kSecond != 0)
    f.fail("--keepalive", "expected whole seconds from 0 to 65535 (e.g. 30s, 2m)");
  Credentials& a = o.auth;
  if (!a.password.empty() && a.username.empty() && m.version == 4) {
    if (f.given("--password-file"))
      throw UsageError{"--password-file: MQTT 3.1.1 sends a password only with --username"};
    a.password.clear();  // $LT_PASSWORD meant for another run: 3.1.1 cannot send it alone
  }
  if (o.subscribers > 1 && !topic.uses_device())
    throw UsageError{fmt::format(
        "--subscribers: more than one needs {{device}} in --topic (each subscriber takes its "
        "share of the devices' topics), got \"{}\"",
        m.topic)};
  if (o.echo) throw UsageError{"--echo: not used by --sink mqtt (use --qos 1 or --subscribers)"};
  // Each worker's subscribers cover its own devices; one shared topic would reach all of them.
  if (o.subscribers > 0 && !topic.uses_device() &&
      !(f.given("--threads") && f.raw("--threads") == "1"))
    throw UsageError{fmt::format(
        "--subscribers: a --topic without {{device}} needs --threads 1 (subscribers are per "
        "worker), got \"{}\"",
        m.topic)};
  // Resuming QoS 2 flows (PUBREL and DUP resends) after a reconnect is not implemented: a kept
  // session would hold the broker's quota for flows that never finish.
  if (o.persistent && m.qos == 2)
    throw UsageError{"--persistent: not with --qos 2 (unfinished QoS 2 flows are not resumed)"};
  // mosquitto's default in-flight limit is 20 and a 3.1.1 client is not told it: keep to it
  // unless --inflight says otherwise (5.0 brokers announce theirs).
  if (!f.given("--inflight")) o.inflight = 20;
}

std::string describe_mqtt(const Options& o) {
  if (o.sink != "mqtt") return "";
  const MqttOptions& m = o.mqtt;
  std::string s =
      fmt::format(" --mqtt-version={} --qos={} {} {} --keepalive={}",
                  m.version == 5 ? "5" : "3.1.1", m.qos, shell_word("--topic=" + m.topic),
                  shell_word("--client-id=" + m.client_id), format_exact(m.keepalive));
  if (m.retain) s += " --retain";
  if (o.persistent) s += " --persistent";
  return s;
}

}  // namespace lt
