#include "results/result_file.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "report/result_json.hpp"

namespace lt::results {

using nlohmann::json;

namespace {

std::string read_text(const std::string& path, const std::string& who) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    throw UsageError{fmt::format("{}: cannot read \"{}\": {}", who, path, std::strerror(errno))};
  std::string text;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  // A directory opens fine on Linux and only fails here, with EISDIR.
  const int error = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (error != 0)
    throw UsageError{fmt::format("{}: cannot read \"{}\": {}", who, path, std::strerror(error))};
  return text;
}

}  // namespace

[[noreturn]] void not_a_result(const std::string& who, const std::string& path,
                               std::string_view why) {
  throw UsageError{fmt::format("{}: \"{}\" is not a load-tester result file ({})", who, path, why)};
}

const json& member(const json& object, const char* key) {
  static const json absent = json::object();
  const auto it = object.find(key);  // end() for anything but an object
  return it == object.end() ? absent : *it;
}

json read_result(const std::string& path, const std::string& who) {
  json j = json::parse(read_text(path, who), nullptr, false);
  if (j.is_discarded()) not_a_result(who, path, "not JSON");
  // Files of other tools, or of a future format, would otherwise read as zeros.
  if (member(j, "tool") != "load-tester") not_a_result(who, path, "no \"tool\": \"load-tester\"");
  const json& format = member(j, "format");
  if (format.is_number_integer() && format.get<std::int64_t>() > kResultFormat)
    throw UsageError{fmt::format("{}: \"{}\" has result format {}; this load-tester reads {}", who,
                                 path, format.get<std::int64_t>(), kResultFormat)};
  return j;
}

Options options_of(const json& r) {
  const json& j = r.at("options");
  Options o;
  o.sink = j.value("sink", "tcp");
  o.hostname = j.value("hostname", "");
  o.port = j.value("port", 0);
  o.devices = std::max<std::uint64_t>(1, j.value("devices", 1));
  o.closed_loop = j.value("closed_loop", false);
  if (!o.closed_loop && j.contains("rate") && j["rate"].is_number()) {
    // The file keeps the rate as a number; a micro-message resolution is plenty for a summary.
    o.rate = Rate{std::uint64_t(std::llround(j["rate"].get<double>() * 1e6)), 1'000'000};
    o.msg = Rate{o.rate->num, o.rate->den * o.devices};
  }
  o.payload = j.value("payload", 0);
  o.duration = j.value("duration_ns", Nanos(0));
  o.update = j.value("update_ns", kSecond);
  o.echo = j.value("echo", false);
  o.tls.enabled = j.value("tls", false);
  o.tls.insecure = o.tls.enabled && !j.value("tls_verify", true);
  if (j.contains("http")) {
    o.http.method = j["http"].value("method", "GET");
    o.http.target = j["http"].value("target", "/");
    o.http.pipeline = j["http"].value("pipeline", 1);
  }
  if (j.contains("mqtt")) {
    o.mqtt.qos = j["mqtt"].value("qos", 0);
    o.subscribers = j["mqtt"].value("subscribers", 0);
  }
  if (j.contains("nats")) {
    const std::string mode = j["nats"].value("mode", "pub");
    o.nats.mode = mode == "request" ? NatsMode::Request
                  : mode == "e2e"   ? NatsMode::E2e
                                    : NatsMode::Pub;
    o.nats.subject = j["nats"].value("subject", "");
    o.subscribers = j["nats"].value("subscribers", 0);
  }
  if (j.contains("amqp")) {
    o.amqp.exchange = j["amqp"].value("exchange", "");
    o.amqp.routing_key = j["amqp"].value("routing_key", "");
    o.amqp.confirm = j["amqp"].value("confirm", true);
    o.subscribers = j["amqp"].value("consumers", 0);
  }
  if (j.contains("kafka")) {
    o.kafka.brokers = j["kafka"].value("brokers", "");
    o.kafka.topic = j["kafka"].value("topic", "");
    o.kafka.acks = j["kafka"].value("acks", "all");
    o.subscribers = j["kafka"].value("consumers", 0);
  }
  return o;
}

}  // namespace lt::results
