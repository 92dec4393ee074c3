// A Kafka-protocol cluster for the tests, since no Kafka broker is packaged for Debian:
// librdkafka's mock cluster, on loopback, in its own process so a test can kill it. It prints
// "bootstrap HOST:PORT,..." and then obeys one command per line on stdin, answering each line
// with "ok" or "error: ..." so a test knows the change is in effect before it goes on:
//   down B | up B                 broker B (ids from 1) closes and refuses connections, or is back
//   rtt B MS                      broker B answers MS milliseconds late
//   err API COUNT CODE            the next COUNT requests of API (name or key) fail with CODE
//   topic-err TOPIC CODE          every request for TOPIC fails with CODE (NO_ERROR clears it)
//   create TOPIC PARTITIONS RF    create a topic
//   leader TOPIC PARTITION B      move a partition's leader to broker B
//   quit                          (or end of input) stop
// CODE is a name as rd_kafka_err2name gives it (LEADER_NOT_AVAILABLE) or a number.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace {

std::optional<rd_kafka_resp_err_t> error_code(const std::string& word) {
  char* end = nullptr;
  const long n = std::strtol(word.c_str(), &end, 10);
  if (!word.empty() && *end == '\0') return rd_kafka_resp_err_t(n);
  const rd_kafka_err_desc* descs;
  size_t count;
  rd_kafka_get_err_descs(&descs, &count);
  for (size_t i = 0; i < count; ++i)
    if (descs[i].name && word == descs[i].name) return descs[i].code;
  return std::nullopt;
}

std::optional<int16_t> api_key(const std::string& word) {
  static const std::map<std::string, int16_t> names = {
      {"Produce", 0},      {"Fetch", 1},       {"ListOffsets", 2},      {"Metadata", 3},
      {"OffsetCommit", 8}, {"OffsetFetch", 9}, {"FindCoordinator", 10}, {"JoinGroup", 11},
      {"Heartbeat", 12},   {"SyncGroup", 14},  {"InitProducerId", 22}};
  if (auto it = names.find(word); it != names.end()) return it->second;
  char* end = nullptr;
  const long n = std::strtol(word.c_str(), &end, 10);
  if (!word.empty() && *end == '\0' && n >= 0 && n < 100) return int16_t(n);
  return std::nullopt;
}

std::string obey(rd_kafka_mock_cluster_t* mc, const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (cmd == "down" || cmd == "up") {
    int b = 0;
    if (!(in >> b)) return "error: usage: down|up BROKER";
    err = cmd == "down" ? rd_kafka_mock_broker_set_down(mc, b) : rd_kafka_mock_broker_set_up(mc, b);
  } else if (cmd == "rtt") {
    int b = 0, ms = 0;
    if (!(in >> b >> ms)) return "error: usage: rtt BROKER MS";
    err = rd_kafka_mock_broker_set_rtt(mc, b, ms);
  } else if (cmd == "err") {
    std::string api, code;
    size_t count = 0;
    if (!(in >> api >> count >> code)) return "error: usage: err API COUNT CODE";
    auto key = api_key(api);
    auto e = error_code(code);
    if (!key || !e) return "error: unknown API or error code";
    for (size_t i = 0; i < count; ++i) rd_kafka_mock_push_request_errors(mc, *key, 1, *e);
  } else if (cmd == "topic-err") {
    std::string topic, code;
    if (!(in >> topic >> code)) return "error: usage: topic-err TOPIC CODE";
    auto e = error_code(code);
    if (!e) return "error: unknown error code";
    rd_kafka_mock_topic_set_error(mc, topic.c_str(), *e);
  } else if (cmd == "create") {
    std::string topic;
    int partitions = 0, rf = 0;
    if (!(in >> topic >> partitions >> rf)) return "error: usage: create TOPIC PARTITIONS RF";
    err = rd_kafka_mock_topic_create(mc, topic.c_str(), partitions, rf);
  } else if (cmd == "leader") {
    std::string topic;
    int partition = 0, b = 0;
    if (!(in >> topic >> partition >> b)) return "error: usage: leader TOPIC PARTITION BROKER";
    err = rd_kafka_mock_partition_set_leader(mc, topic.c_str(), partition, b);
  } else {
    return "error: unknown command \"" + cmd + "\"";
  }
  if (err) return std::string("error: ") + rd_kafka_err2str(err);
  return "ok";
}

}  // namespace

int main(int argc, char** argv) {
  const int brokers = argc > 1 ? std::atoi(argv[1]) : 3;
  if (brokers < 1 || brokers > 16) {
    std::fprintf(stderr, "usage: lt-kafka-mock [BROKERS 1..16]\n");
    return 2;
  }
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only owns the cluster: it is never given brokers and never produces.
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    std::fprintf(stderr, "lt-kafka-mock: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    std::fprintf(stderr, "lt-kafka-mock: cannot start the mock cluster\n");
    return 1;
  }
  std::printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "quit") break;
    if (line.empty()) continue;
    std::printf("%s\n", obey(mc, line).c_str());
    std::fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
