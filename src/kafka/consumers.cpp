#include "kafka/consumers.hpp"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>

#include "kafka/config.hpp"
#include "sinks/e2e_tracker.hpp"

namespace lt::kafka {

namespace {

constexpr Nanos kPollPeriod = 20 * kMilli;  // safety net beside the queue's event fd

struct PartitionsDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionsPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionsDeleter>;

int timeout_ms(const Options& o) {
  return int(std::min<Nanos>(o.connect_timeout, 60 * kSecond) / kMilli);
}

// One topic's metadata. A topic being auto-created answers UNKNOWN_TOPIC_OR_PART or
// LEADER_NOT_AVAILABLE at first: asked again until it has partitions or the time is up.
const rd_kafka_metadata_t* topic_metadata(rd_kafka_t* rk, const std::string& name, int wait_ms) {
  const auto until = monotonic_now() + Nanos(wait_ms) * kMilli;
  for (;;) {
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, name.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, wait_ms);
    rd_kafka_topic_destroy(t);
    if (err)
      throw std::runtime_error(fmt::format("--consumers: no metadata for topic \"{}\": {}", name,
                                           rd_kafka_err2str(err)));
    const auto* mt = md->topic_cnt == 1 ? &md->topics[0] : nullptr;
    if (mt && !mt->err && mt->partition_cnt > 0) return md;
    const auto why = mt ? mt->err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    rd_kafka_metadata_destroy(md);
    if (monotonic_now() >= until)
      throw std::runtime_error(fmt::format(
          "--consumers: topic \"{}\" cannot be read: {} (create it first, or let the cluster "
          "auto-create topics)",
          name, rd_kafka_err2str(why)));
    usleep(100'000);
  }
}

}  // namespace

struct Consumer final : IoHandler {
  Consumers::Impl* owner = nullptr;
  HandlePtr rk;
  rd_kafka_queue_t* queue = nullptr;
  int efd = -1;
  void on_io(std::uint32_t, Nanos now) override;
};

struct Consumers::Impl {
  SinkContext& c;
  E2eTracker tracker;
  std::vector<Consumer> consumers;
  bool stopped = false;

  Impl(SinkContext& context, std::size_t n)
      : c(context), tracker(context.device_ids, context.recorder, true), consumers(n) {}

  void poll(Consumer& k, Nanos now) {
    while (rd_kafka_message_t* m = rd_kafka_consume_queue(k.queue, 0)) {
      if (m->err) {
        // PARTITION_EOF is off by default; anything else is the cluster's refusal.
        ++c.recorder.codes[fmt::format("consume {}", rd_kafka_err2name(m->err))];
      } else {
        tracker.received({static_cast<const char*>(m->payload), m->len}, now);
        c.recorder.count(Counter::BytesReceived, m->len);
      }
      rd_kafka_message_destroy(m);
      now = c.clock.now();
    }
  }

  void tick(Consumer& k, Nanos now) {
    if (stopped) return;
    poll(k, now);
    c.loop.at(now + kPollPeriod, [this, &k](Nanos t) { tick(k, t); });
  }

  void close() {
    stopped = true;
    for (auto& k : consumers) {
      if (!k.rk) continue;
      if (k.efd >= 0) {
        c.loop.remove(k.efd);
        ::close(k.efd);
      }
      rd_kafka_queue_destroy(k.queue);
      rd_kafka_assign(k.rk.get(), nullptr);
      k.rk.reset();
    }
  }
};

void Consumer::on_io(std::uint32_t, Nanos now) {
  std::uint64_t n;
  while (::read(efd, &n, sizeof n) > 0) {
  }
  owner->poll(*this, now);
}

Consumers::Consumers(SinkContext& c, const std::vector<std::string>& topics)
    : impl_(std::make_unique<Impl>(c, E2eTracker::subscribers_on(c))) {
  if (impl_->consumers.empty()) return;  // a worker without devices
  const int wait = timeout_ms(c.options);
  std::vector<PartitionsPtr> lists;
  for (std::size_t i = 0; i < impl_->consumers.size(); ++i) {
    Consumer& k = impl_->consumers[i];
    k.owner = impl_.get();
    ConfPtr conf = consumer_conf(c.options, "load-tester");
    char why[512];
    k.rk.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), why, sizeof why));
    if (!k.rk) throw UsageError{fmt::format("-X: librdkafka refused the configuration: {}", why)};
    conf.release();
    lists.emplace_back(rd_kafka_topic_partition_list_new(0));
  }
  // Each topic's partitions, dealt out over the consumers, each from its end offset now: the run
  // starts only after this, so none of its messages comes before a consumer's start.
  rd_kafka_t* ask = impl_->consumers.front().rk.get();
  std::size_t next = 0;
  for (const auto& name : topics) {
    const rd_kafka_metadata_t* md = topic_metadata(ask, name, wait);
    const rd_kafka_metadata_topic_t* mt = &md->topics[0];
    for (int p = 0; p < mt->partition_cnt; ++p) {
      const std::int32_t id = mt->partitions[p].id;
      std::int64_t low = 0, high = 0;
      const auto err = rd_kafka_query_watermark_offsets(ask, name.c_str(), id, &low, &high, wait);
      if (err) {
        rd_kafka_metadata_destroy(md);
        throw std::runtime_error(fmt::format("--consumers: no end offset for {}[{}]: {}", name, id,
                                             rd_kafka_err2str(err)));
      }
      auto& list = lists[next++ % lists.size()];
      rd_kafka_topic_partition_list_add(list.get(), name.c_str(), id)->offset = high;
    }
    rd_kafka_metadata_destroy(md);
  }
  for (std::size_t i = 0; i < impl_->consumers.size(); ++i) {
    Consumer& k = impl_->consumers[i];
    rd_kafka_poll_set_consumer(k.rk.get());
    if (auto err = rd_kafka_assign(k.rk.get(), lists[i].get()))
      throw std::runtime_error(fmt::format("--consumers: assign: {}", rd_kafka_err2str(err)));
    k.queue = rd_kafka_queue_get_consumer(k.rk.get());
    k.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (k.efd < 0) throw std::runtime_error("eventfd failed");
    static const std::uint64_t one = 1;
    rd_kafka_queue_io_event_enable(k.queue, k.efd, &one, sizeof one);
    c.loop.add(k.efd, EPOLLIN, &k);
    c.loop.at(c.clock.now() + kPollPeriod, [this, &k](Nanos t) { impl_->tick(k, t); });
  }
}

Consumers::~Consumers() {
  impl_->close();
}

bool Consumers::behind(std::uint64_t delivered) const {
  return impl_->tracker.received_total() < delivered;
}

void Consumers::stop(Nanos) {
  impl_->close();
}

}  // namespace lt::kafka
