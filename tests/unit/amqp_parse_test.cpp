// The AMQP 0-9-1 argument parsers on well-formed and on cut-short arguments (the frame reader:
// amqp_reader_test.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "amqp/codec.hpp"
#include "amqp_frames.hpp"
#include "byte_strings.hpp"

namespace lt::amqp {
namespace {

// ---- argument parsers ----

// Every prefix shorter than `args` must be refused, with a reason.
template <typename Parse>
void expect_truncations_refused(const std::string& args, Parse parse, const char* what) {
  for (std::size_t n = 0; n < args.size(); ++n) {
    std::string why;
    EXPECT_FALSE(parse(std::string_view(args).substr(0, n), why)) << what << " cut to " << n;
    EXPECT_FALSE(why.empty()) << what << " cut to " << n;
  }
}

TEST(AmqpParse, Start) {
  const std::string args =
      bytes({0, 9}) + longstr(kServerProperties) + longstr("AMQPLAIN PLAIN") + longstr("en_US");
  std::string why;
  const auto s = parse_start(args, why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->major, 0);
  EXPECT_EQ(s->minor, 9);
  EXPECT_EQ(s->mechanisms, "AMQPLAIN PLAIN");
  EXPECT_TRUE(has_word(s->mechanisms, "PLAIN"));
  expect_truncations_refused(args, parse_start, "connection.start");

  // Empty table, mechanisms and locales are well-formed (whether PLAIN is offered is the
  // sink's concern).
  const auto empty = parse_start(bytes({0, 9}) + be32(0) + be32(0) + be32(0), why);
  ASSERT_TRUE(empty) << why;
  EXPECT_TRUE(empty->mechanisms.empty());
  // A length past the end.
  std::string w;
  EXPECT_FALSE(parse_start(bytes({0, 9}) + be32(0xFFFFFFFF) + "x", w));
  EXPECT_NE(w.find("connection.start"), std::string::npos) << w;
}

TEST(AmqpParse, Tune) {
  const std::string args = be16(2047) + be32(131072) + be16(60);
  std::string why;
  const auto t = parse_tune(args, why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->channel_max, 2047);
  EXPECT_EQ(t->frame_max, 131072u);
  EXPECT_EQ(t->heartbeat_s, 60);
  expect_truncations_refused(args, parse_tune, "connection.tune");

  for (std::uint32_t frame_max : {0u, 4096u, 4097u, 0xFFFFFFFFu}) {
    const auto ok = parse_tune(be16(0) + be32(frame_max) + be16(0), why);
    ASSERT_TRUE(ok) << frame_max << ": " << why;
    EXPECT_EQ(ok->frame_max, frame_max);
  }
  for (std::uint32_t frame_max = 1; frame_max < 4096; ++frame_max) {
    std::string w;
    ASSERT_FALSE(parse_tune(be16(0) + be32(frame_max) + be16(0), w)) << frame_max;
    ASSERT_NE(w.find(std::to_string(frame_max)), std::string::npos) << w;
    ASSERT_NE(w.find("4096"), std::string::npos) << w;
  }
}

TEST(AmqpParse, Close) {
  const std::string text = "CONNECTION_FORCED - broker forced connection closure";
  const std::string args = be16(320) + shortstr(text) + be16(0) + be16(0);
  std::string why;
  const auto c = parse_close(args, why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->code, 320);
  EXPECT_EQ(c->text, text);
  EXPECT_EQ(c->failed_method, 0u);
  expect_truncations_refused(args, parse_close, "close");

  const std::string failed = be16(404) + shortstr("NOT_FOUND - no queue 'q'") + be16(50) + be16(10);
  const auto f = parse_close(failed, why);
  ASSERT_TRUE(f) << why;
  EXPECT_EQ(f->code, 404);
  EXPECT_EQ(f->failed_method, method::kQueueDeclare);
  expect_truncations_refused(failed, parse_close, "channel.close");

  // What encode_close writes, parsed back.
  std::string out;
  encode_close(out, 1, 200, "load-tester done");
  const std::string args_back = only_method(out, 1, method::kChannelClose);
  const auto back = parse_close(args_back, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->code, 200);
  EXPECT_EQ(back->text, "load-tester done");
  EXPECT_EQ(back->failed_method, 0u);
}

TEST(AmqpParse, Ack) {
  const std::string args = be64(0x0102030405060708ull) + bytes({1});
  std::string why;
  const auto a = parse_ack(args, why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->tag, 0x0102030405060708ull);
  EXPECT_TRUE(a->multiple);
  expect_truncations_refused(args, parse_ack, "basic.ack");
  // basic.nack's bits: multiple 1, requeue 2.
  for (const auto& [bits, multiple] :
       std::vector<std::pair<int, bool>>{{0, false}, {2, false}, {3, true}, {0xFF, true}}) {
    const auto b = parse_ack(be64(7) + bytes({bits}), why);
    ASSERT_TRUE(b) << why;
    EXPECT_EQ(b->tag, 7u);
    EXPECT_EQ(b->multiple, multiple) << bits;
  }
  const auto max = parse_ack(be64(~0ull) + bytes({0}), why);
  ASSERT_TRUE(max) << why;
  EXPECT_EQ(max->tag, ~0ull);
}

TEST(AmqpParse, Return) {
  const std::string args = be16(312) + shortstr("NO_ROUTE") + shortstr("ex") + shortstr("lt.1");
  std::string why;
  const auto r = parse_return(args, why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->code, 312);
  EXPECT_EQ(r->text, "NO_ROUTE");
  EXPECT_EQ(r->exchange, "ex");
  EXPECT_EQ(r->routing_key, "lt.1");
  expect_truncations_refused(args, parse_return, "basic.return");
  const auto empty = parse_return(be16(313) + bytes({0, 0, 0}), why);
  ASSERT_TRUE(empty) << why;
  EXPECT_TRUE(empty->exchange.empty() && empty->routing_key.empty());
}

TEST(AmqpParse, Deliver) {
  const std::string args =
      shortstr("lt-0-1") + be64(42) + bytes({1}) + shortstr("amq.topic") + shortstr("lt.dev.9");
  std::string why;
  const auto d = parse_deliver(args, why);
  ASSERT_TRUE(d) << why;
  EXPECT_EQ(d->consumer_tag, "lt-0-1");
  EXPECT_EQ(d->delivery_tag, 42u);
  EXPECT_TRUE(d->redelivered);
  EXPECT_EQ(d->exchange, "amq.topic");
  EXPECT_EQ(d->routing_key, "lt.dev.9");
  expect_truncations_refused(args, parse_deliver, "basic.deliver");
  const std::string plain_args = shortstr("t") + be64(1) + bytes({0, 0, 1, 'k'});
  const auto plain = parse_deliver(plain_args, why);  // views into plain_args
  ASSERT_TRUE(plain) << why;
  EXPECT_FALSE(plain->redelivered);
  EXPECT_EQ(plain->routing_key, "k");
}

TEST(AmqpParse, BlockedAndFlow) {
  const std::string args = shortstr("low on memory");
  std::string why;
  const auto b = parse_blocked(args, why);
  ASSERT_TRUE(b) << why;
  EXPECT_EQ(*b, "low on memory");
  expect_truncations_refused(args, parse_blocked, "connection.blocked");
  const auto none = parse_blocked(bytes({0}), why);
  ASSERT_TRUE(none) << why;
  EXPECT_TRUE(none->empty());

  for (const auto& [bits, active] :
       std::vector<std::pair<int, bool>>{{0, false}, {1, true}, {0xFE, false}, {0xFF, true}}) {
    const auto f = parse_flow(bytes({bits}), why);
    ASSERT_TRUE(f) << why;
    EXPECT_EQ(*f, active) << bits;
  }
  expect_truncations_refused(bytes({1}), parse_flow, "channel.flow");
}

TEST(AmqpParse, ContentHeader) {
  const std::string payload = be16(60) + be16(0) + be64(123456) + be16(0);
  std::string why;
  const auto h = parse_content_header(payload, why);
  ASSERT_TRUE(h) << why;
  EXPECT_EQ(h->class_id, 60);
  EXPECT_EQ(h->body_size, 123456u);
  expect_truncations_refused(payload, parse_content_header, "content header");
  // Properties after the flags are skipped: content-type and delivery mode.
  const std::string with_props =
      be16(60) + be16(0) + be64(5) + be16(0x9000) + shortstr("text/plain") + bytes({2});
  const auto p = parse_content_header(with_props, why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->body_size, 5u);
}

}  // namespace
}  // namespace lt::amqp
