#include "cli/kafka_flags.hpp"

#include <algorithm>
#include <cctype>

#include "core/template.hpp"
#include "kafka/config.hpp"

namespace lt {

namespace {

constexpr std::size_t kMaxTopic = 249;  // Kafka's limit on a topic name

bool topic_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

void check_brokers(Flags& f, const std::string& list) {
  if (kafka::broker_hosts(list).empty())
    f.fail("--brokers", "expected host:port[,host:port...] (port 1 to 65535)");
}

// kcat's -F format: NAME=VALUE lines; blank lines and # comments skipped.
void read_config_file(Flags& f, KafkaOptions& k) {
  f.path("--kafka-config", k.config_file);
  std::string text, why;
  if (!read_text_file(k.config_file, text, why))
    throw UsageError{fmt::format("--kafka-config: cannot read \"{}\": {}", k.config_file, why)};
  std::size_t number = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    std::string line = text.substr(at, end - at);
    at = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq <= first)
      throw UsageError{fmt::format("--kafka-config: \"{}\" line {}: expected NAME=VALUE",
                                   k.config_file, number)};
    std::string name = line.substr(first, eq - first);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    if (auto flag = kafka::owned_by_flag(name); !flag.empty())
      throw UsageError{fmt::format("--kafka-config: \"{}\" line {}: {} is set by {}", k.config_file,
                                   number, name, flag)};
    std::string value = line.substr(eq + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    k.file_properties.emplace_back(std::move(name), std::move(value));
  }
}

}  // namespace

void add_kafka_flags(Flags& f) {
  f.value("--brokers", "LIST", "kafka: bootstrap brokers host:port,... [127.0.0.1:9092]");
  f.value("--key", "TEMPLATE",
          "kafka: message key, {device} and {rank} expand; \"\" = no key [{device}: each device "
          "keeps its partition and order]");
  f.value("--acks", "all|1|0", "kafka: acknowledgements the leader waits for [all]");
  f.value("--producers", "N", "kafka: librdkafka producers the devices share [one per worker]");
  f.repeated("-X", "NAME=VALUE",
             "kafka: librdkafka property, repeatable (compression.type=lz4, linger.ms=5, ...)");
  f.value("--kafka-config", "FILE",
          "kafka: librdkafka properties, one NAME=VALUE a line (# comments), applied after -X: "
          "the place for secrets (ssl.keystore.password, ...), which are never shown");
}

void validate_kafka(Flags& f, Options& o) {
  for (const char* name : {"--brokers", "--key", "--acks", "--producers", "-X", "--kafka-config"})
    if (f.given(name) && o.sink != "kafka")
      throw UsageError{fmt::format("{}: only with --sink kafka", name)};
  if (o.sink != "kafka") return;
  for (const char* name : {"--hostname", "--port"})
    if (f.given(name))
      throw UsageError{fmt::format("{}: --sink kafka takes --brokers host:port,...", name)};
  if (o.echo) throw UsageError{"--echo: not used by --sink kafka (delivery reports measure)"};
  // librdkafka opens the broker connections, not the devices.
  for (const char* name : {"--source-ip", "--connect-rate"})
    if (f.given(name))
      throw UsageError{
          fmt::format("{}: not used by --sink kafka (producers connect to the "
                      "brokers; see -X broker.address.family, socket.*)",
                      name)};
  KafkaOptions& k = o.kafka;
  if (f.given("--brokers")) k.brokers = f.raw("--brokers");
  check_brokers(f, k.brokers);
  if (f.given("--topic")) k.topic = f.raw("--topic");
  std::string why;
  auto topic = NameTemplate::parse(k.topic, why);
  if (!topic) throw UsageError{fmt::format("--topic: {}, got \"{}\"", why, k.topic)};
  const std::string longest = topic->expand(o.devices - 1, 9999);
  if (longest.empty() || longest.size() > kMaxTopic ||
      !std::all_of(longest.begin(), longest.end(), topic_char) || longest == "." || longest == "..")
    throw UsageError{fmt::format(
        "--topic: a Kafka topic is 1 to {} of a-z A-Z 0-9 . _ -, got \"{}\"", kMaxTopic, k.topic)};
  if (f.given("--key")) k.key = f.raw("--key");
  if (!NameTemplate::parse(k.key, why))
    throw UsageError{fmt::format("--key: {}, got \"{}\"", why, k.key)};
  f.choice("--acks", k.acks, {"all", "-1", "1", "0"}, "--acks value");
  if (k.acks == "-1") k.acks = "all";
  f.count("--producers", k.producers, 1, 1024);
  if (!o.auth.username.empty() && o.auth.password.empty())
    throw UsageError{"--username: kafka SASL needs a password: --password-file or $LT_PASSWORD"};
  for (const auto& x : f.values("-X")) {
    const auto eq = x.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError{
          fmt::format("-X: expected NAME=VALUE (a librdkafka property), got \"{}\"", x)};
    std::string name = x.substr(0, eq);
    // The value is never repeated: it may be a secret.
    if (auto flag = kafka::owned_by_flag(name); !flag.empty())
      throw UsageError{fmt::format("-X: {} is set by {}", name, flag)};
    if (kafka::secret_property(name))
      throw UsageError{fmt::format(
          "-X: {} holds a secret: put it in a --kafka-config file ({}secrets are never taken on "
          "the command line)",
          name, name == "sasl.password" ? "or --password-file, $LT_PASSWORD; " : "")};
    k.properties.emplace_back(std::move(name), x.substr(eq + 1));
  }
  if (f.given("--kafka-config")) read_config_file(f, k);
  // The whole configuration once, as the sink will build it: librdkafka names what it refuses.
  kafka::producer_conf(o);
  if (o.subscribers > 0) kafka::consumer_conf(o, "load-tester");
}

std::string describe_kafka(const Options& o) {
  if (o.sink != "kafka") return "";
  const KafkaOptions& k = o.kafka;
  std::string s =
      fmt::format(" --brokers={} {} {} --acks={}", k.brokers, shell_word("--topic=" + k.topic),
                  shell_word("--key=" + k.key), k.acks);
  if (k.producers) s += fmt::format(" --producers={}", k.producers);
  for (const auto& [name, value] : k.properties) s += " -X " + shell_word(name + "=" + value);
  if (!k.config_file.empty()) s += " " + shell_word("--kafka-config=" + k.config_file);
  return s;
}

}  // namespace lt
