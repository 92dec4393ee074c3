#include "sinks/kafka_sink.hpp"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "core/template.hpp"
#include "kafka/config.hpp"
#include "kafka/consumers.hpp"
#include "sinks/e2e_tracker.hpp"
#include "sinks/wire_header.hpp"

namespace lt {
namespace {

// The queue's event fd wakes the loop; this poll is only the safety net beside it, and the
// check for a producer that has not yet reached the cluster.
constexpr Nanos kPollPeriod = 20 * kMilli;
constexpr Nanos kUpCheck = 2 * kMilli;  // connect phase: has the producer its metadata yet?
// After purging at the end, the delivery reports of what was purged arrive within this.
constexpr Nanos kPurgeWait = 2 * kSecond;

// librdkafka reports each failure per message or per attempt: the user is told each kind once.
void say_once(const std::string& kind, const std::string& text) {
  static std::mutex m;
  static std::set<std::string> said;
  std::lock_guard lock(m);
  if (said.insert(kind).second) fmt::print(stderr, "load-tester: kafka: {}\n", text);
}

// librdkafka reports a failed connection attempt or a broken connection as one error code
// (_TRANSPORT) with the reason in words; the kinds the other sinks count are told apart by them.
std::optional<Counter> error_kind(rd_kafka_resp_err_t err, std::string_view reason) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
      if (reason.find("refused") != std::string_view::npos) return Counter::ErrRefused;
      if (reason.find("timed out") != std::string_view::npos) return Counter::ErrConnectTimeout;
      if (reason.find("reset") != std::string_view::npos) return Counter::ErrReset;
      if (reason.find("Disconnected") != std::string_view::npos) return Counter::ErrClosed;
      return Counter::ErrSend;
    case RD_KAFKA_RESP_ERR__RESOLVE:
      return Counter::ErrUnreachable;
    case RD_KAFKA_RESP_ERR__SSL:
      return Counter::ErrTls;
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      return Counter::ErrBroker;
    default:
      return std::nullopt;  // a summary (_ALL_BROKERS_DOWN) or a state: counted by code only
  }
}

struct InFlight {
  Nanos intended;
  Nanos sent;
  std::uint32_t device;
};

struct Device {
  std::uint32_t producer;
  std::uint32_t topic;  // index into the producer's topic handles
  std::uint32_t inflight = 0;
  bool waiting = false;  // told Busy or Down: ready() when that ends
  std::string key;
};

// A broker's cumulative statistics, to turn librdkafka's totals into interval counts.
struct BrokerTotals {
  std::uint64_t disconnects = 0, retries = 0, timeouts = 0, requests = 0;
};

class KafkaSink;

struct Producer final : IoHandler {
  KafkaSink* sink = nullptr;
  kafka::HandlePtr rk;
  int efd = -1;
  std::vector<rd_kafka_topic_t*> topics;
  Nanos created = 0;
  bool up = false;    // has cluster metadata: its devices may send
  bool down = false;  // every broker is down: its devices have settled, unconnected
  std::uint32_t devices_opened = 0;
  std::map<std::string, BrokerTotals> brokers;
  void on_io(std::uint32_t, Nanos now) override;
};

class KafkaSink final : public Sink {
 public:
  explicit KafkaSink(SinkContext& c) : c_(c), payload_(c.options.payload, '\0') {
    const KafkaOptions& k = c.options.kafka;
    std::string why;
    const auto topic = NameTemplate::parse(k.topic, why);
    const auto key = NameTemplate::parse(k.key, why);
    const std::size_t n = producers_on(c);
    producers_.resize(n);
    std::vector<std::map<std::string, std::uint32_t>> topic_index(n);
    for (std::size_t i = 0; i < c.device_ids.size(); ++i) {
      const auto p = std::uint32_t(i % n);
      const std::string name = topic->expand(c.device_ids[i], c.options.rank);
      auto [it, added] = topic_index[p].emplace(name, topic_index[p].size());
      devices_.push_back(
          Device{p, it->second, 0, false, key->expand(c.device_ids[i], c.options.rank)});
      if (added) topic_names_.insert(name);
    }
    for (std::size_t p = 0; p < n; ++p) start_producer(producers_[p], topic_index[p]);
    if (c.options.subscribers > 0)
      consumers_ = std::make_unique<kafka::Consumers>(
          c, std::vector<std::string>(topic_names_.begin(), topic_names_.end()));
  }

  ~KafkaSink() override { close_all(); }

  void open(std::uint32_t local, Nanos now) override {
    Device& d = devices_[local];
    ++producers_[d.producer].devices_opened;
    if (check_until_ == 0) {
      // Beyond the connect phase the 20 ms poll keeps looking for a producer still away.
      check_until_ = now + c_.options.connect_timeout;
      c_.loop.at(now + kUpCheck, [this](Nanos t) { check(t); });
    }
  }

  std::uint32_t connected() const override {
    std::uint32_t n = 0;
    for (const auto& p : producers_)
      if (p.up) n += p.devices_opened;
    return n;
  }

  std::uint32_t settled() const override {
    std::uint32_t n = 0;
    for (const auto& p : producers_)
      if (p.up || p.down) n += p.devices_opened;
    return n;
  }

  Offer offer(std::uint32_t local, std::uint64_t seq, Nanos intended, Nanos now) override {
    Device& d = devices_[local];
    Producer& p = producers_[d.producer];
    if (!p.up) return wait(d, Offer::Down);
    if (d.inflight >= c_.options.inflight) return wait(d, Offer::Busy);
    const std::uint64_t device = c_.device_ids[local];
    write_wire_header(
        reinterpret_cast<unsigned char*>(payload_.data()),
        WireHeader{std::uint32_t(payload_.size()), std::uint32_t(device), seq, intended, now});
    const std::uint32_t slot = take_slot();
    slots_[slot] = InFlight{intended, now, local};
    const int rc =
        rd_kafka_produce(p.topics[d.topic], RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                         payload_.data(), payload_.size(), d.key.empty() ? nullptr : d.key.data(),
                         d.key.size(), reinterpret_cast<void*>(std::uintptr_t(slot)));
    if (rc != 0) {
      free_.push_back(slot);
      const rd_kafka_resp_err_t err = rd_kafka_last_error();
      // The producer's queue is full (queue.buffering.max.messages): backlog, then missed.
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return wait(d, Offer::Busy);
      // Refused before it was queued (e.g. a topic the cluster said we may not write to): due
      // but never sent, like a full backlog, and an error of its own.
      c_.recorder.count(Counter::ErrRejected);
      c_.recorder.count(Counter::Missed);
      count_code("produce", err);
      say_once(
          std::string("produce ") + rd_kafka_err2name(err),
          fmt::format("produce refused: {} ({})", rd_kafka_err2str(err), rd_kafka_err2name(err)));
      return Offer::Taken;
    }
    ++d.inflight;
    ++outstanding_;
    c_.recorder.sent(intended, now, payload_.size());
    return Offer::Taken;
  }

  // librdkafka batches by itself (linger.ms): nothing to write here.
  void flush(Nanos) override {}

  bool busy() const override {
    return outstanding_ > 0 || (consumers_ && consumers_->behind(completed_));
  }

  void stop(Nanos now) override {
    // What librdkafka still holds is purged; its delivery reports count it lost.
    for (auto& p : producers_)
      if (p.rk) rd_kafka_purge(p.rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    const Nanos until = c_.clock.now() + kPurgeWait;
    while (outstanding_ > 0 && c_.clock.now() < until)
      for (auto& p : producers_)
        if (p.rk) serve(p, c_.clock.now(), 10);
    c_.recorder.count(Counter::Lost, outstanding_);
    outstanding_ = 0;
    if (consumers_) consumers_->stop(now);
    close_all();
  }

  // Called from librdkafka's callbacks, which run inside rd_kafka_poll on the worker's thread.
  void delivered(const rd_kafka_message_t* m) {
    const auto slot = std::uint32_t(reinterpret_cast<std::uintptr_t>(m->_private));
    const InFlight f = slots_[slot];
    free_.push_back(slot);
    --devices_[f.device].inflight;
    --outstanding_;
    if (!m->err) {
      c_.recorder.completed(f.intended, f.sent, now_);
      ++completed_;
      return;
    }
    count_code("delivery", m->err);
    switch (m->err) {
      case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
      case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
        c_.recorder.count(Counter::Lost);
        return;  // our own purge at the end: counted lost, not reported as the cluster's
      case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
        c_.recorder.count(Counter::ErrTimeout);
        break;
      default:
        c_.recorder.count(Counter::ErrRejected);
    }
    say_once(std::string("delivery ") + rd_kafka_err2name(m->err),
             fmt::format("delivery failed: {} ({})", rd_kafka_err2str(m->err),
                         rd_kafka_err2name(m->err)));
  }

  void client_error(Producer& p, int err, const char* reason) {
    const auto e = rd_kafka_resp_err_t(err);
    count_code("client", e);
    if (auto kind = error_kind(e, reason)) c_.recorder.count(*kind);
    if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) p.down = true;
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
      char why[512];
      rd_kafka_fatal_error(p.rk.get(), why, sizeof why);
      say_once("fatal", fmt::format("fatal error, the producer stops: {}", why));
      return;
    }
    say_once(std::string("client ") + rd_kafka_err2name(e),
             fmt::format("{} ({})", reason, rd_kafka_err2name(e)));
  }

  void statistics(Producer& p, const char* text, std::size_t size) {
    auto j = nlohmann::json::parse(text, text + size, nullptr, false);
    if (j.is_discarded() || !j.contains("brokers")) return;
    for (const auto& [name, b] : j["brokers"].items()) {
      BrokerTotals now{b.value("disconnects", 0ull), b.value("txretries", 0ull),
                       b.value("req_timeouts", 0ull), b.value("tx", 0ull)};
      BrokerTotals& was = p.brokers[name];
      auto delta = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; };
      c_.recorder.count(Counter::Disconnects, delta(now.disconnects, was.disconnects));
      c_.recorder.count(Counter::Retries, delta(now.retries, was.retries));
      c_.recorder.count(Counter::ReqTimeouts, delta(now.timeouts, was.timeouts));
      c_.recorder.count(Counter::Writes, delta(now.requests, was.requests));
      was = now;
    }
  }

  // Runs librdkafka's callbacks for what its queue holds, then lets waiting devices go on.
  void serve(Producer& p, Nanos now, int wait_ms = 0) {
    now_ = now;
    while (rd_kafka_poll(p.rk.get(), wait_ms) > 0) {
      wait_ms = 0;
      now_ = c_.clock.now();
    }
    if (!p.up && rd_kafka_controllerid(p.rk.get(), 0) >= 0) {
      p.up = true;
      p.down = false;
      c_.recorder.connected(p.created, now_);  // a producer's first metadata from the cluster
    }
    wake_waiting(now_);
  }

 private:
  static std::size_t producers_on(const SinkContext& c) {
    const std::uint32_t total = c.options.kafka.producers;
    if (total == 0) return c.device_ids.empty() ? 0 : 1;
    return std::max<std::size_t>(1, share_of_worker(total, c.workers, c.device_ids.size()));
  }

  void start_producer(Producer& p, const std::map<std::string, std::uint32_t>& topics) {
    kafka::ConfPtr conf = kafka::producer_conf(c_.options);
    rd_kafka_conf_set_opaque(conf.get(), &p);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* o) {
      auto* p = static_cast<Producer*>(o);
      p->sink->delivered(m);
    });
    rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t*, int err, const char* reason, void* o) {
      auto* p = static_cast<Producer*>(o);
      p->sink->client_error(*p, err, reason);
    });
    rd_kafka_conf_set_stats_cb(conf.get(), [](rd_kafka_t*, char* json, size_t len, void* o) {
      auto* p = static_cast<Producer*>(o);
      p->sink->statistics(*p, json, len);
      return 0;  // librdkafka frees the text
    });
    char why[512];
    p.sink = this;
    p.created = c_.clock.now();
    p.rk.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), why, sizeof why));
    if (!p.rk) throw UsageError{fmt::format("-X: librdkafka refused the configuration: {}", why)};
    conf.release();  // rd_kafka_new took it
    std::vector<std::pair<std::string, std::uint32_t>> ordered(topics.begin(), topics.end());
    std::sort(ordered.begin(), ordered.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    for (const auto& [name, index] : ordered)
      p.topics.push_back(rd_kafka_topic_new(p.rk.get(), name.c_str(), nullptr));
    // Delivery reports land on the main queue: librdkafka writes to the fd when it goes from
    // empty to non-empty, so each wake-up drains it whole.
    p.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p.efd < 0) throw std::runtime_error("eventfd failed");
    static const std::uint64_t one = 1;
    rd_kafka_queue_t* q = rd_kafka_queue_get_main(p.rk.get());
    rd_kafka_queue_io_event_enable(q, p.efd, &one, sizeof one);
    rd_kafka_queue_destroy(q);
    c_.loop.add(p.efd, EPOLLIN, &p);
    c_.loop.at(c_.clock.now() + kPollPeriod, [this, &p](Nanos t) { tick(p, t); });
  }

  void tick(Producer& p, Nanos now) {
    if (!p.rk) return;
    serve(p, now);
    c_.loop.at(now + kPollPeriod, [this, &p](Nanos t) { tick(p, t); });
  }

  void check(Nanos now) {
    bool all = true;
    for (auto& p : producers_) {
      if (p.rk) serve(p, now);
      all = all && (p.up || p.down);
    }
    if (!all && now < check_until_) c_.loop.at(now + kUpCheck, [this](Nanos t) { check(t); });
  }

  Offer wait(Device& d, Offer why) {
    if (!d.waiting) {
      d.waiting = true;
      waiting_.push_back(std::uint32_t(&d - devices_.data()));
    }
    return why;
  }

  void wake_waiting(Nanos now) {
    if (waiting_.empty()) return;
    waking_.swap(waiting_);
    for (std::uint32_t local : waking_) {
      Device& d = devices_[local];
      const Producer& p = producers_[d.producer];
      if (!p.up || d.inflight >= c_.options.inflight) {
        waiting_.push_back(local);  // still waiting
        continue;
      }
      d.waiting = false;
      c_.events.ready(local, now);
    }
    waking_.clear();
  }

  std::uint32_t take_slot() {
    if (free_.empty()) {
      slots_.emplace_back();
      return std::uint32_t(slots_.size() - 1);
    }
    const std::uint32_t s = free_.back();
    free_.pop_back();
    return s;
  }

  void count_code(const char* where, rd_kafka_resp_err_t err) {
    ++c_.recorder.codes[fmt::format("{} {}", where, rd_kafka_err2name(err))];
  }

  void close_all() {
    for (auto& p : producers_) {
      if (!p.rk) continue;
      if (p.efd >= 0) {
        c_.loop.remove(p.efd);
        ::close(p.efd);
        p.efd = -1;
      }
      for (auto* t : p.topics) rd_kafka_topic_destroy(t);
      p.topics.clear();
      p.rk.reset();
    }
  }

  SinkContext& c_;
  std::string payload_;
  std::vector<Producer> producers_;
  std::vector<Device> devices_;
  std::set<std::string> topic_names_;
  std::vector<InFlight> slots_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> waiting_, waking_;
  std::uint64_t outstanding_ = 0, completed_ = 0;
  Nanos now_ = 0;
  Nanos check_until_ = 0;
  std::unique_ptr<kafka::Consumers> consumers_;
};

void Producer::on_io(std::uint32_t, Nanos now) {
  std::uint64_t n;
  while (::read(efd, &n, sizeof n) > 0) {
  }
  sink->serve(*this, now);
}

}  // namespace

std::unique_ptr<Sink> make_kafka_sink(SinkContext& context) {
  return std::make_unique<KafkaSink>(context);
}

}  // namespace lt
