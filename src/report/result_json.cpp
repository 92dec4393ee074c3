#include "report/result_json.hpp"

#include "cli/options.hpp"

namespace lt {

using nlohmann::json;

namespace {
// "p50", "p99", "p99.9", "p99.99": the keys users grep for.
std::string fmt_percentile_key(double p) {
  std::string s = std::to_string(p);
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  return "p" + s;
}
}  // namespace

json counters_to_json(const Counters& c) {
  json j = json::object();
  for (std::size_t i = 0; i < c.v.size(); ++i) j[std::string(kCounterNames[i])] = c.v[i];
  return j;
}

json histogram_to_json(const HdrHistogram& h) {
  json pct = json::object();
  for (double p : {50.0, 90.0, 95.0, 99.0, 99.9, 99.99})
    pct[fmt_percentile_key(p)] = h.value_at_percentile(p);
  return json{{"unit", "ns"},       {"count", h.total_count()}, {"min", h.min()},
              {"max", h.max()},     {"mean", h.mean()},         {"stddev", h.stddev()},
              {"percentiles", pct}, {"hdr", h.encode_base64()}};
}

json interval_to_json(const IntervalPoint& p) {
  return {{"index", p.index},
          {"start_ns", p.start},
          {"length_ns", p.length},
          {"connected", p.connected},
          {"rss_kib", p.rss_kib},
          {"counters", counters_to_json(p.counters)},
          {"latency_p50_ns", p.latency_p50},
          {"latency_p99_ns", p.latency_p99},
          {"latency_max_ns", p.latency_max},
          {"lateness_p99_ns", p.lateness_p99},
          {"latency_hdr", p.latency_hdr}};
}

json result_to_json(const RunResult& run) {
  const Options& o = *run.options;
  json options = {{"sink", o.sink},
                  {"hostname", o.hostname},
                  {"port", o.port},
                  {"devices", o.devices},
                  {"msg_per_device",
                   o.closed_loop ? json() : json(o.total_rate().per_second() / double(o.devices))},
                  {"rate", o.closed_loop ? json() : json(o.total_rate().per_second())},
                  {"closed_loop", o.closed_loop},
                  {"payload", o.payload},
                  {"duration_ns", o.duration},
                  {"update_ns", o.update},
                  {"arrival", o.arrival == Arrival::Poisson ? "poisson" : "constant"},
                  {"echo", o.echo},
                  {"precise", o.precise},
                  {"backlog", o.backlog},
                  {"inflight", o.inflight},
                  {"timeout_ns", o.timeout},
                  {"peer_timeout_ns", o.peer_timeout},
                  {"connect_rate", o.connect_rate ? json(o.connect_rate->per_second()) : json()},
                  {"source_ips", o.source_ips},
                  {"threads", run.workers},
                  {"tls", o.tls.enabled},
                  {"tls_verify", o.tls.enabled && !o.tls.insecure}};
  if (o.sink == "mqtt")
    options["mqtt"] = {{"version", o.mqtt.version == 5 ? "5" : "3.1.1"},
                       {"qos", o.mqtt.qos},
                       {"retain", o.mqtt.retain},
                       {"topic", o.mqtt.topic},
                       {"client_id", o.mqtt.client_id},
                       {"persistent", o.persistent},
                       {"keepalive_ns", o.mqtt.keepalive},
                       {"username", o.auth.username},
                       {"subscribers", o.subscribers}};
  if (o.sink == "nats")
    options["nats"] = {
        {"mode", nats_mode_name(o.nats.mode)}, {"subject", o.nats.subject},
        {"headers", o.nats.shown_headers},     {"header_file", o.nats.header_file},
        {"responders", o.nats.responders},     {"ping_interval_ns", o.nats.ping_interval},
        {"username", o.auth.username},         {"subscribers", o.subscribers}};
  if (o.sink == "amqp")
    options["amqp"] = {{"vhost", o.amqp.vhost},
                       {"exchange", o.amqp.exchange},
                       {"routing_key", o.amqp.key_template()},
                       {"queue", o.amqp.queue},
                       {"declare", o.amqp.declare},
                       {"exchange_type", o.amqp.exchange_type},
                       {"durable", o.amqp.durable},
                       {"auto_delete", o.amqp.auto_delete},
                       {"persistent", o.persistent},
                       {"mandatory", o.amqp.mandatory},
                       {"confirm", o.amqp.confirm},
                       {"heartbeat_ns", o.amqp.heartbeat},
                       {"username", o.auth.username},
                       {"consumers", o.subscribers}};
  if (o.sink == "http")
    options["http"] = {{"method", o.http.method},          {"target", o.http.target},
                       {"headers", o.http.shown_headers},  {"header_file", o.http.header_file},
                       {"body_bytes", o.http.body.size()}, {"pipeline", o.http.pipeline}};
  if (o.sink == "kafka") {
    json properties = json::object();
    for (const auto& [name, value] : o.kafka.properties) properties[name] = value;
    options["kafka"] = {{"brokers", o.kafka.brokers},
                        {"topic", o.kafka.topic},
                        {"key", o.kafka.key},
                        {"acks", o.kafka.acks},
                        {"producers", o.kafka.producers},
                        {"properties", properties},
                        {"username", o.auth.username},
                        {"consumers", o.subscribers},
                        {"config_file", o.kafka.config_file}};  // its values never: secrets
  }
  json intervals = json::array();
  for (const auto& p : run.intervals) {
    intervals.push_back(interval_to_json(p));
  }
  return json{{"tool", "load-tester"},
              {"version", LT_VERSION},
              {"format", kResultFormat},
              {"options", options},
              {"run",
               {{"target", run.target},
                {"start_unix_ns", run.start_unix_ns},
                {"elapsed_ns", run.elapsed},
                {"connect_phase_ns", run.connect_phase},
                {"connected_at_start", run.connected_at_start},
                {"connect",
                 {{"target_rate", o.connect_rate ? json(o.connect_rate->per_second()) : json()},
                  {"established", run.phase_connects},
                  {"span_ns", run.phase_connect_span},
                  {"achieved_rate", run.connect_rate()}}},
                {"interrupted", run.interrupted},
                {"failures", run.failures},
                {"max_rss_kib", run.max_rss_kib},
                {"rss_before_devices_kib", run.rss_before_devices_kib},
                {"rss_connected_kib", run.rss_connected_kib},
                {"cpu_seconds", run.cpu_seconds},
                {"workers", run.workers},
                {"rank", o.rank},
                {"size", o.size},
                {"devices", o.local_devices()},
                {"placement", o.placement},
                {"start_at_unix_ns", o.start_at ? json(*o.start_at) : json()},
                {"start_late_ns", run.start_late_ns}}},
              {"rate",
               {{"target", o.closed_loop ? json() : json(run.target_rate())},
                {"closed_loop", o.closed_loop},
                {"achieved", run.achieved_rate()}}},
              {"counters", counters_to_json(run.total.counters)},
              {"error_codes", run.total.codes},
              {"histograms",
               {{"latency", histogram_to_json(run.total.latency)},
                {"service", histogram_to_json(run.total.service)},
                {"lateness", histogram_to_json(run.total.lateness)},
                {"connect", histogram_to_json(run.total.connect)},
                {"tls_handshake", histogram_to_json(run.total.handshake)},
                {"e2e", histogram_to_json(run.total.e2e)}}},
              {"intervals", intervals}};
}

}  // namespace lt
