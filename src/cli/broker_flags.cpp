#include "cli/broker_flags.hpp"

#include <cstdlib>

namespace lt {

namespace {

bool is_broker(const std::string& sink) {
  return sink == "mqtt" || sink == "nats" || sink == "amqp" || sink == "kafka";
}

// A file written by an editor or `echo` ends with a newline that is not part of the secret.
std::string read_secret(Flags& f, const char* name, std::string& path) {
  f.path(name, path);
  std::string secret, why;
  if (!read_text_file(path, secret, why))
    throw UsageError{fmt::format("{}: cannot read \"{}\": {}", name, path, why)};
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) throw UsageError{fmt::format("{}: \"{}\" is empty", name, path)};
  return secret;
}

}  // namespace

void add_broker_flags(Flags& f, CLI::App& app, Options& o) {
  f.value("--username", "NAME",
          "mqtt, nats, amqp, kafka (SASL): user name (amqp: also amqp://NAME@host) [amqp: guest]");
  f.value("--password-file", "FILE",
          "mqtt, nats, amqp, kafka: password read from a file (or set $LT_PASSWORD) [amqp guest: "
          "guest]");
  f.value("--token-file", "FILE", "nats: authentication token read from a file (or $LT_TOKEN)");
  f.value("--subscribers", "N",
          "mqtt, nats: subscriber connections inside the tool measuring end-to-end latency [0]");
  f.value("--consumers", "N",
          "amqp, kafka: consumers inside the tool measuring end-to-end latency [0]");
  app.add_flag("--persistent", o.persistent,
               "mqtt: keep sessions (clean session off; 5.0: a one-hour session expiry); amqp: "
               "persistent messages (delivery mode 2)");
}

void validate_broker(Flags& f, Options& o) {
  for (const char* name : {"--username", "--password-file"})
    if (f.given(name) && !is_broker(o.sink))
      throw UsageError{fmt::format("{}: only with --sink mqtt, nats, amqp or kafka", name)};
  if (f.given("--subscribers") && o.sink != "mqtt" && o.sink != "nats")
    throw UsageError{o.sink == "amqp" || o.sink == "kafka"
                         ? fmt::format("--subscribers: --sink {} has --consumers", o.sink)
                         : "--subscribers: only with --sink mqtt or nats"};
  if (f.given("--consumers") && o.sink != "amqp" && o.sink != "kafka")
    throw UsageError{"--consumers: only with --sink amqp or kafka"};
  if (f.given("--persistent") && o.sink != "mqtt" && o.sink != "amqp")
    throw UsageError{"--persistent: only with --sink mqtt or amqp"};
  if (f.given("--token-file") && o.sink != "nats")
    throw UsageError{"--token-file: only with --sink nats"};
  if (!is_broker(o.sink)) return;
  Credentials& a = o.auth;
  if (f.given("--username")) {
    if (!a.username.empty())
      throw UsageError{"--username: the URL already names the user: give it once"};
    a.username = f.raw("--username");
    if (a.username.empty() || a.username.size() > 65535)
      f.fail("--username", "expected 1 to 65535 bytes");
  }
  if (f.given("--password-file")) {
    a.password = read_secret(f, "--password-file", a.password_file);
  } else if (const char* env = std::getenv("LT_PASSWORD"); env && *env) {
    a.password = env;
  }
  if (f.given("--token-file")) {
    a.token = read_secret(f, "--token-file", a.token_file);
  } else if (const char* env = std::getenv("LT_TOKEN"); env && *env && o.sink == "nats") {
    a.token = env;
  }
  if (!a.token.empty() && !a.username.empty())
    throw UsageError{"--token-file: a token and --username exclude each other: give one"};
  f.count("--subscribers", o.subscribers, 0, 100'000);
  f.count("--consumers", o.subscribers, 0, 100'000);
}

std::string describe_broker(const Options& o) {
  const Credentials& a = o.auth;
  std::string s;
  if (!a.username.empty()) s += " " + shell_word("--username=" + a.username);
  if (!a.password_file.empty()) s += " " + shell_word("--password-file=" + a.password_file);
  if (!a.token_file.empty()) s += " " + shell_word("--token-file=" + a.token_file);
  if (o.subscribers)
    s +=
        fmt::format(" --{}={}", o.sink == "amqp" || o.sink == "kafka" ? "consumers" : "subscribers",
                    o.subscribers);
  if (o.persistent) s += " --persistent";
  return s;
}

}  // namespace lt
