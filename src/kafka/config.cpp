#include "kafka/config.hpp"

#include <fmt/format.h>

#include <array>
#include <string_view>

#include "cli/flags.hpp"

namespace lt::kafka {

namespace {

void set(rd_kafka_conf_t* conf, const std::string& flag, const std::string& name,
         const std::string& value) {
  char why[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), why, sizeof why) != RD_KAFKA_CONF_OK)
    throw UsageError{flag == "-X" ? fmt::format("-X: {}, got \"{}={}\"", why, name, value)
                                  : fmt::format("{}: {}", flag, why)};
}

// What a consumer shares with the producer: how to reach and log in to the cluster.
bool connection_property(std::string_view name) {
  for (std::string_view prefix :
       {"security.", "sasl.", "ssl.", "ssl_", "socket.", "broker.", "client.", "api.version",
        "reconnect.", "metadata.", "topic.metadata.", "enable.ssl.", "log_level", "debug"})
    if (name.substr(0, prefix.size()) == prefix) return true;
  return false;
}

void set_common(rd_kafka_conf_t* conf, const Options& o) {
  set(conf, "--brokers", "bootstrap.servers", o.kafka.brokers);
  set(conf, "--brokers", "client.id", "load-tester");
  // librdkafka prints its own log lines to stderr, the same failure again on every retry; the
  // sink shows each kind of error once (error_cb) and counts them all. --verbose shows the log.
  if (o.verbose)
    set(conf, "--verbose", "log_level", "6");
  else
    rd_kafka_conf_set_log_cb(conf, nullptr);
  if (o.tls.enabled || !o.auth.username.empty()) {
    const char* protocol =
        o.tls.enabled ? (o.auth.username.empty() ? "ssl" : "sasl_ssl") : "sasl_plaintext";
    set(conf, "--tls", "security.protocol", protocol);
  }
  if (!o.tls.ca_file.empty()) set(conf, "--ca-file", "ssl.ca.location", o.tls.ca_file);
  if (o.tls.insecure) {
    set(conf, "--insecure", "enable.ssl.certificate.verification", "false");
    set(conf, "--insecure", "ssl.endpoint.identification.algorithm", "none");
  }
  if (!o.auth.username.empty()) {
    // librdkafka's default mechanism is GSSAPI (Kerberos); a user name and password mean PLAIN
    // unless -X sasl.mechanisms says SCRAM.
    set(conf, "--username", "sasl.mechanisms", "PLAIN");
    set(conf, "--username", "sasl.username", o.auth.username);
    set(conf, "--password-file", "sasl.password", o.auth.password);
  }
}

// -X in order, then the --kafka-config file's (whose values, secrets among them, are never
// shown: an error names the property and the file only), then what the tool insists on.
template <typename Keep>
void set_user_properties(rd_kafka_conf_t* conf, const Options& o, Keep keep) {
  for (const auto& [name, value] : o.kafka.properties)
    if (keep(name)) set(conf, "-X", name, value);
  char why[512];
  for (const auto& [name, value] : o.kafka.file_properties) {
    if (!keep(name)) continue;
    const auto result = rd_kafka_conf_set(conf, name.c_str(), value.c_str(), why, sizeof why);
    if (result != RD_KAFKA_CONF_OK)
      throw UsageError{fmt::format(
          "--kafka-config: \"{}\": {} {}", o.kafka.config_file,
          result == RD_KAFKA_CONF_UNKNOWN ? "no such property" : "an invalid value for", name)};
  }
  set(conf, "--username", "sasl.kerberos.min.time.before.relogin", "0");
}

}  // namespace

std::string owned_by_flag(const std::string& name) {
  static const std::array<std::pair<std::string_view, std::string_view>, 7> owned = {{
      {"bootstrap.servers", "--brokers"},
      {"metadata.broker.list", "--brokers"},
      {"acks", "--acks"},
      {"request.required.acks", "--acks"},
      {"sasl.username", "--username"},
      // librdkafka runs this through the shell (system()); no text of ours or the user's goes
      // to a shell, so the ticket refresh is off and kinit is the user's to run.
      {"sasl.kerberos.kinit.cmd", "nobody: it runs a shell; run kinit yourself"},
      {"sasl.kerberos.min.time.before.relogin", "the tool (0: no kinit through a shell)"},
  }};
  for (const auto& [property, flag] : owned)
    if (name == property) return std::string(flag);
  return "";
}

std::vector<std::string> broker_hosts(std::string_view list) {
  std::vector<std::string> hosts;
  for (std::size_t at = 0; at <= list.size();) {
    const std::size_t comma = std::min(list.find(',', at), list.size());
    const std::string_view one = list.substr(at, comma - at);
    at = comma + 1;
    const std::size_t colon = one.rfind(':');
    if (colon == std::string_view::npos) return {};
    std::string host(one.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    const auto port = parse_count(one.substr(colon + 1));
    if (host.empty() || !valid_hostname(host) || !port || *port < 1 || *port > 65535) return {};
    hosts.push_back(std::move(host));
  }
  return hosts;
}

bool secret_property(std::string_view name) {
  return name.find("password") != std::string_view::npos ||
         name.find("secret") != std::string_view::npos || name == "ssl.key.pem" ||
         name == "ssl_key" || name == "sasl.oauthbearer.config";
}

ConfPtr producer_conf(const Options& o) {
  ConfPtr conf(rd_kafka_conf_new());
  set_common(conf.get(), o);
  set(conf.get(), "--acks", "acks", o.kafka.acks == "all" ? "-1" : o.kafka.acks);
  // Broker connects, retries and request timeouts come from the statistics.
  set(conf.get(), "--update", "statistics.interval.ms", "1000");
  set_user_properties(conf.get(), o, [](std::string_view) { return true; });
  return conf;
}

ConfPtr consumer_conf(const Options& o, const std::string& group) {
  ConfPtr conf(rd_kafka_conf_new());
  set_common(conf.get(), o);
  set(conf.get(), "--consumers", "group.id", group);
  set(conf.get(), "--consumers", "enable.auto.commit", "false");
  set(conf.get(), "--consumers", "auto.offset.reset", "latest");
  // A broker answers a fetch when data arrives; the mock cluster waits out fetch.wait.max.ms
  // (500 ms) first, which would show as end-to-end latency.
  set(conf.get(), "--consumers", "fetch.wait.max.ms", "10");
  // The consumers ask for the topics before the producers' first message: a cluster that
  // auto-creates topics creates them then, as it would for the producers.
  set(conf.get(), "--consumers", "allow.auto.create.topics", "true");
  set_user_properties(conf.get(), o, connection_property);
  return conf;
}

}  // namespace lt::kafka
