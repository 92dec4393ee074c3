#include "cli/amqp_flags.hpp"

#include <algorithm>

#include "core/template.hpp"

namespace lt {

namespace {

constexpr Nanos kMaxHeartbeat = 65535 * kSecond;  // a 16-bit count of seconds on the wire

void need_amqp(Flags& f, const Options& o, const char* name) {
  if (f.given(name) && o.sink != "amqp")
    throw UsageError{fmt::format("{}: only with --sink amqp", name)};
}

// Exchange, queue and routing key are AMQP short strings: at most 255 bytes. Control bytes are
// refused too: they would only ever be a quoting mistake.
void check_name(const char* flag, const std::string& value, const std::string& raw) {
  if (value.size() > 255)
    throw UsageError{fmt::format("{}: expected at most 255 bytes, got \"{}\"", flag, raw)};
  if (std::any_of(value.begin(), value.end(), [](char c) { return (unsigned char)c < 0x20; }))
    throw UsageError{fmt::format("{}: control characters are not accepted, got \"{}\"", flag, raw)};
}

NameTemplate check_template(const char* flag, const std::string& text, std::uint64_t devices) {
  std::string why;
  auto t = NameTemplate::parse(text, why);
  if (!t) throw UsageError{fmt::format("{}: {}, got \"{}\"", flag, why, text)};
  // The longest expansion is the highest device id's.
  check_name(flag, t->expand(devices - 1, 9999), text);
  return *t;
}

}  // namespace

void add_amqp_flags(Flags& f, CLI::App& app, Options& o) {
  f.value("--vhost", "NAME", "amqp: virtual host (or the path of an amqp:// URL) [/]");
  f.value("--exchange", "NAME", "amqp: exchange to publish to; \"\" = the default exchange [\"\"]");
  f.value("--routing-key", "TEMPLATE",
          "amqp: routing key, {device} and {rank} expand [the --queue template]");
  f.value("--queue", "TEMPLATE",
          "amqp: queue declared and bound by --declare and read by --consumers [load-tester]");
  app.add_flag("--declare", o.amqp.declare,
               "amqp: declare the exchange, the queues and their bindings before the run");
  f.value("--exchange-type", "TYPE", "amqp --declare: direct, fanout, topic or headers [direct]");
  app.add_flag("--durable", o.amqp.durable, "amqp --declare: durable exchange and queues");
  app.add_flag("--auto-delete", o.amqp.auto_delete,
               "amqp --declare: exchange and queues deleted when no longer used");
  app.add_flag("--mandatory", o.amqp.mandatory,
               "amqp: unroutable messages come back and are counted (err_returned)");
  f.value("--confirm", "on|off",
          "amqp: publisher confirms, latency until basic.ack; off = fire and forget [on]");
  f.value("--heartbeat", "DURATION", "amqp: heartbeat proposed to the broker, 0 = off [60s]");
}

void validate_amqp(Flags& f, Options& o) {
  for (const char* name :
       {"--vhost", "--exchange", "--routing-key", "--queue", "--declare", "--exchange-type",
        "--durable", "--auto-delete", "--mandatory", "--confirm", "--heartbeat"})
    need_amqp(f, o, name);
  if (o.sink != "amqp") return;
  AmqpOptions& a = o.amqp;
  if (f.given("--vhost")) {
    if (f.given("--url") && a.vhost != "/")
      throw UsageError{"--vhost: the amqp:// URL already names the virtual host"};
    a.vhost = f.raw("--vhost");
    if (a.vhost.empty()) f.fail("--vhost", "expected a virtual host name");
  }
  check_name("--vhost", a.vhost, a.vhost);
  if (f.given("--exchange")) a.exchange = f.raw("--exchange");
  check_name("--exchange", a.exchange, a.exchange);
  if (f.given("--queue")) a.queue = f.raw("--queue");
  if (f.given("--routing-key")) a.routing_key = f.raw("--routing-key");
  const NameTemplate queue = check_template("--queue", a.queue, o.devices);
  if (queue.expand(0, 0).empty())
    f.fail("--queue", "expected a queue name (the broker names an empty one itself)");
  check_template("--routing-key", a.key_template(), o.devices);
  f.choice("--exchange-type", a.exchange_type, {"direct", "fanout", "topic", "headers"},
           "exchange type");
  for (const char* name : {"--exchange-type", "--durable", "--auto-delete"})
    if (f.given(name) && !a.declare) throw UsageError{fmt::format("{}: only with --declare", name)};
  std::string confirm;
  f.choice("--confirm", confirm, {"on", "off"}, "--confirm value");
  if (!confirm.empty()) a.confirm = confirm == "on";
  f.duration("--heartbeat", a.heartbeat, 0, kMaxHeartbeat);
  if (a.heartbeat % kSecond != 0)
    f.fail("--heartbeat", "expected whole seconds from 0 to 65535 (e.g. 30s, 2m)");
  // Consumers take a share of their worker's devices' queues; one queue for all would hand
  // them other workers' messages.
  if (o.subscribers > 0 && !queue.uses_device() &&
      !(f.given("--threads") && f.raw("--threads") == "1"))
    throw UsageError{fmt::format(
        "--consumers: a --queue without {{device}} needs --threads 1 (consumers are per "
        "worker), got \"{}\"",
        a.queue)};
  if (o.echo) throw UsageError{"--echo: not used by --sink amqp (confirms or --consumers measure)"};
  // RabbitMQ's URI default: guest, whose password is guest (accepted from loopback only).
  Credentials& c = o.auth;
  if (c.username.empty()) c.username = "guest";
  if (c.username == "guest" && c.password.empty()) c.password = "guest";
}

std::string describe_amqp(const Options& o) {
  if (o.sink != "amqp") return "";
  const AmqpOptions& a = o.amqp;
  std::string s = fmt::format(
      " {} {} {} {} --confirm={} --heartbeat={}", shell_word("--vhost=" + a.vhost),
      shell_word("--exchange=" + a.exchange), shell_word("--routing-key=" + a.key_template()),
      shell_word("--queue=" + a.queue), a.confirm ? "on" : "off", format_exact(a.heartbeat));
  if (a.declare)
    s += fmt::format(" --declare --exchange-type={}{}{}", a.exchange_type,
                     a.durable ? " --durable" : "", a.auto_delete ? " --auto-delete" : "");
  if (a.mandatory) s += " --mandatory";
  return s;
}

}  // namespace lt
