// The AMQP 0-9-1 encoders byte for byte against the spec's layouts (hand-computed), and the
// method ids and names.
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

// ---- encoders ----

TEST(AmqpEncode, ProtocolHeader) {
  std::string out;
  encode_protocol_header(out);
  EXPECT_BYTES(out, 'A', 'M', 'Q', 'P', 0, 0, 9, 1);
  EXPECT_EQ(out, std::string(kProtocolHeader));
}

TEST(AmqpEncode, Heartbeat) {
  std::string out = "x";  // appends
  encode_heartbeat(out);
  EXPECT_BYTES(out, 'x', 8, 0, 0, 0, 0, 0, 0, 0xCE);
}

TEST(AmqpEncode, TuneOk) {
  std::string out;
  encode_tune_ok(out, 1, 131072, 60);
  // connection.tune-ok (10.31): channel-max 1, frame-max 131072, heartbeat 60.
  EXPECT_BYTES(out, 1, 0, 0, 0, 0, 0, 12, 0, 10, 0, 31,  //
               0, 1, 0, 2, 0, 0, 0, 60, 0xCE);
  out.clear();
  encode_tune_ok(out, 0xFFFF, 0xFFFFFFFF, 0);
  EXPECT_BYTES(out, 1, 0, 0, 0, 0, 0, 12, 0, 10, 0, 31,  //
               0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0xCE);
}

TEST(AmqpEncode, Open) {
  std::string out;
  encode_open(out, "/");
  // connection.open (10.40): virtual-host "/", reserved short string "", reserved bit 0.
  EXPECT_BYTES(out, 1, 0, 0, 0, 0, 0, 8, 0, 10, 0, 40, 1, '/', 0, 0, 0xCE);
  out.clear();
  encode_open(out, "lt");
  EXPECT_BYTES(out, 1, 0, 0, 0, 0, 0, 9, 0, 10, 0, 40, 2, 'l', 't', 0, 0, 0xCE);
}

TEST(AmqpEncode, ChannelOpen) {
  std::string out;
  encode_channel_open(out, 1);
  // channel.open (20.10) on channel 1: a reserved empty short string.
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 10, 0, 0xCE);
  out.clear();
  encode_channel_open(out, 0x1234);
  EXPECT_BYTES(out, 1, 0x12, 0x34, 0, 0, 0, 5, 0, 20, 0, 10, 0, 0xCE);
}

TEST(AmqpEncode, ConfirmSelect) {
  std::string out;
  encode_confirm_select(out, 1);
  // confirm.select (85.10): nowait off.
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 5, 0, 85, 0, 10, 0, 0xCE);
}

TEST(AmqpEncode, FlowOk) {
  std::string out;
  encode_flow_ok(out, 1, true);
  encode_flow_ok(out, 1, false);
  // channel.flow-ok (20.21): active.
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 21, 1, 0xCE,  //
               1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 21, 0, 0xCE);
}

TEST(AmqpEncode, QueueDeclareBits) {
  // queue.declare (50.10): ticket, queue, bits (passive 1, durable 2, exclusive 4, auto-delete
  // 8, nowait 16), empty arguments table. Payload 14 bytes with the name "q1".
  const struct {
    bool durable, auto_delete;
    int bits;
  } cases[] = {{false, false, 0}, {true, false, 2}, {false, true, 8}, {true, true, 10}};
  for (const auto& c : cases) {
    std::string out;
    encode_queue_declare(out, 1, "q1", c.durable, c.auto_delete);
    EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 14, 0, 50, 0, 10, 0, 0, 2, 'q', '1', c.bits,  //
                 0, 0, 0, 0, 0xCE)
        << c.durable << c.auto_delete;
  }
  std::string out;
  encode_queue_declare(out, 1, "", false, false);  // a server-named queue
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 12, 0, 50, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0xCE);
}

TEST(AmqpEncode, ExchangeDeclareBits) {
  // exchange.declare (40.10): ticket, exchange, type, bits (passive 1, durable 2, auto-delete
  // 4, internal 8, nowait 16), empty arguments table.
  std::string out;
  encode_exchange_declare(out, 1, "ex", "topic", true, true);
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 20, 0, 40, 0, 10, 0, 0, 2, 'e', 'x',  //
               5, 't', 'o', 'p', 'i', 'c', 6, 0, 0, 0, 0, 0xCE);
  out.clear();
  encode_exchange_declare(out, 1, "ex", "fanout", false, false);
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 21, 0, 40, 0, 10, 0, 0, 2, 'e', 'x',  //
               6, 'f', 'a', 'n', 'o', 'u', 't', 0, 0, 0, 0, 0, 0xCE);
}

TEST(AmqpEncode, QueueBind) {
  std::string out;
  encode_queue_bind(out, 1, "q1", "amq.topic", "lt.dev.0");
  // queue.bind (50.20): ticket, queue, exchange, routing key, nowait off, empty arguments.
  // Payload 4 + 2 + 3 + 10 + 9 + 1 + 4 = 33.
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 33, 0, 50, 0, 20, 0, 0, 2, 'q', '1',  //
               9, 'a', 'm', 'q', '.', 't', 'o', 'p', 'i', 'c',              //
               8, 'l', 't', '.', 'd', 'e', 'v', '.', '0', 0, 0, 0, 0, 0, 0xCE);
}

TEST(AmqpEncode, Qos) {
  std::string out;
  encode_qos(out, 1, 100);
  // basic.qos (60.10): prefetch-size 0, prefetch-count 100, global off.
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 11, 0, 60, 0, 10, 0, 0, 0, 0, 0, 100, 0, 0xCE);
}

TEST(AmqpEncode, Consume) {
  std::string out;
  encode_consume(out, 1, "q1", "lt-0-0", true);
  // basic.consume (60.20): ticket, queue, consumer tag, bits (no-local 1, no-ack 2, exclusive
  // 4, nowait 8), empty arguments. Payload 4 + 2 + 3 + 7 + 1 + 4 = 21.
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 21, 0, 60, 0, 20, 0, 0, 2, 'q', '1',  //
               6, 'l', 't', '-', '0', '-', '0', 2, 0, 0, 0, 0, 0xCE);
  out.clear();
  encode_consume(out, 1, "q1", "", false);
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 15, 0, 60, 0, 20, 0, 0, 2, 'q', '1', 0, 0,  //
               0, 0, 0, 0, 0xCE);
}

TEST(AmqpEncode, CloseOnConnectionAndChannel) {
  std::string out;
  encode_close(out, 0, 200, "bye");
  // connection.close (10.50): reply code 200, reply text, failing class 0 and method 0.
  EXPECT_BYTES(out, 1, 0, 0, 0, 0, 0, 14, 0, 10, 0, 50, 0, 200, 3, 'b', 'y', 'e',  //
               0, 0, 0, 0, 0xCE);
  out.clear();
  encode_close(out, 1, 200, "bye");
  // channel.close (20.40) on channel 1, the same arguments.
  EXPECT_BYTES(out, 1, 0, 1, 0, 0, 0, 14, 0, 20, 0, 40, 0, 200, 3, 'b', 'y', 'e',  //
               0, 0, 0, 0, 0xCE);
  out.clear();
  encode_close(out, 0, 320, "");
  EXPECT_BYTES(out, 1, 0, 0, 0, 0, 0, 11, 0, 10, 0, 50, 0x01, 0x40, 0, 0, 0, 0, 0, 0xCE);
}

TEST(AmqpEncode, CloseOkOnConnectionAndChannel) {
  std::string out;
  encode_close_ok(out, 0);
  encode_close_ok(out, 1);
  // connection.close-ok (10.51), then channel.close-ok (20.41): no arguments.
  EXPECT_BYTES(out, 1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 51, 0xCE,  //
               1, 0, 1, 0, 0, 0, 4, 0, 20, 0, 41, 0xCE);
}

TEST(AmqpEncode, StartOk) {
  std::string out;
  encode_start_ok(out, "user", "pass");
  // One method frame on channel 0 whose size field counts its payload.
  ASSERT_GE(out.size(), 8u);
  EXPECT_EQ(hex(out.substr(0, 3)), hex(bytes({1, 0, 0})));
  Reader head{std::string_view(out).substr(3, 4)};
  EXPECT_EQ(head.uint(4), out.size() - 8);
  EXPECT_EQ(static_cast<unsigned char>(out.back()), 0xCE);
  const std::string args = only_method(out, 0, method::kStartOk);

  Reader in{args};
  const std::string_view table_bytes = Reader{args}.long_string();
  const Table props = in.table();
  ASSERT_TRUE(in.ok) << "client-properties: " << hex(table_bytes);
  EXPECT_EQ(props.text.at("product"), "load-tester");
  EXPECT_EQ(props.text.at("version"), LT_VERSION);
  EXPECT_EQ(props.text.at("platform"), "C++20");
  ASSERT_EQ(props.tables.count("capabilities"), 1u);
  const Table& caps = props.tables.at("capabilities");
  const std::map<std::string, bool> want = {{"publisher_confirms", true},
                                            {"basic.nack", true},
                                            {"connection.blocked", true},
                                            {"consumer_cancel_notify", true},
                                            {"authentication_failure_close", true}};
  EXPECT_EQ(caps.flags, want);
  EXPECT_TRUE(caps.text.empty());
  EXPECT_TRUE(caps.tables.empty());

  EXPECT_EQ(in.short_string(), "PLAIN");
  EXPECT_EQ(hex(in.long_string()), hex(std::string("\0user\0pass", 10)));
  EXPECT_EQ(in.short_string(), "en_US");
  EXPECT_TRUE(in.ok);
  EXPECT_TRUE(in.s.empty()) << hex(in.s);

  // The tables' length fields, checked byte for byte where the capabilities table starts.
  const std::string caps_key = shortstr("capabilities") + "F";
  const std::size_t at = table_bytes.find(caps_key);
  ASSERT_NE(at, std::string::npos);
  Reader caps_len{table_bytes.substr(at + caps_key.size())};
  const std::size_t n = caps_len.uint(4);
  EXPECT_EQ(at + caps_key.size() + 4 + n, table_bytes.size());  // the last entry
  std::string want_caps;
  for (const char* key : {"publisher_confirms", "basic.nack", "connection.blocked",
                          "consumer_cancel_notify", "authentication_failure_close"})
    want_caps += shortstr(key) + "t" + bytes({1});
  EXPECT_EQ(hex(caps_len.take(n)), hex(want_caps));
}

TEST(AmqpEncode, StartOkEmptyAndBinaryCredentials) {
  std::string out;
  encode_start_ok(out, "", "");
  const std::string args = only_method(out, 0, method::kStartOk);
  Reader in{args};
  in.table();
  EXPECT_EQ(in.short_string(), "PLAIN");
  EXPECT_EQ(hex(in.long_string()), hex(bytes({0, 0})));
  EXPECT_EQ(in.short_string(), "en_US");
  EXPECT_TRUE(in.ok && in.s.empty());

  // A password longer than a short string, and one with any bytes in it.
  const std::string password(300, '\xff');
  out.clear();
  encode_start_ok(out, "guest", password);
  const std::string args2 = only_method(out, 0, method::kStartOk);
  Reader in2{args2};
  in2.table();
  EXPECT_EQ(in2.short_string(), "PLAIN");
  EXPECT_EQ(in2.long_string(), std::string("\0guest\0", 7) + password);
  EXPECT_EQ(in2.short_string(), "en_US");
  EXPECT_TRUE(in2.ok && in2.s.empty());
}

TEST(AmqpEncode, PublishHead) {
  // basic.publish (60.40): ticket, exchange, routing key, bits (mandatory 1, immediate 2). Then
  // the content header: class 60, weight 0, body size, property flags (delivery-mode 0x1000)
  // and delivery mode 2 when persistent.
  EXPECT_BYTES(publish_head(1, "ex", "rk", true, false, 10000), 1, 0, 1, 0, 0, 0, 13, 0, 60, 0, 40,
               0, 0, 2, 'e', 'x', 2, 'r', 'k', 1, 0xCE, 2, 0, 1, 0, 0, 0, 14, 0, 60, 0, 0, 0, 0, 0,
               0, 0, 0, 0x27, 0x10, 0, 0, 0xCE);
  EXPECT_BYTES(publish_head(7, "", "lt.dev.3", false, true, 0),     //
               1, 0, 7, 0, 0, 0, 17, 0, 60, 0, 40, 0, 0, 0,         //
               8, 'l', 't', '.', 'd', 'e', 'v', '.', '3', 0, 0xCE,  //
               2, 0, 7, 0, 0, 0, 15, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 2, 0xCE);
  // A body size over 32 bits.
  const std::string head = publish_head(1, "e", "k", false, false, 0x0102030405060708ull);
  const std::vector<Seen> seen = read_all(head);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].type, FrameType::Header);
  std::string why;
  const auto h = parse_content_header(seen[1].payload, why);
  ASSERT_TRUE(h) << why;
  EXPECT_EQ(h->class_id, 60);
  EXPECT_EQ(h->body_size, 0x0102030405060708ull);
}

TEST(AmqpEncode, AppendBodySplitsAtFrameMax) {
  std::string out = "head";
  const std::size_t first = append_body(out, 1, 10000, 4096);
  EXPECT_EQ(first, 4u + 7u);
  ASSERT_EQ(out.size(), 4u + 10000u + 3 * 8);
  EXPECT_EQ(body_frames_size(10000, 4096), 10000u + 3 * 8);
  // Three body frames: 4088, 4088 and 1824 bytes of zeros.
  std::size_t at = 4;
  for (std::uint32_t n : {4088u, 4088u, 1824u}) {
    EXPECT_EQ(hex(out.substr(at, 7)), hex(bytes({3, 0, 1}) + be32(n))) << n;
    EXPECT_EQ(out.substr(at + 7, n), std::string(n, '\0')) << n;
    EXPECT_EQ(static_cast<unsigned char>(out[at + 7 + n]), 0xCE) << n;
    at += n + 8;
  }
  EXPECT_EQ(at, out.size());

  const std::vector<Seen> seen = read_all(std::string_view(out).substr(4), 4096);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].payload.size(), 1824u);
}

TEST(AmqpEncode, AppendBodyEdges) {
  std::string out;
  EXPECT_EQ(append_body(out, 1, 0, 4096), 7u);  // no body: no frames
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(body_frames_size(0, 4096), 0u);

  // Exactly one and exactly two full frames.
  append_body(out, 1, 4088, 4096);
  EXPECT_EQ(out.size(), 4096u);
  out.clear();
  append_body(out, 1, 8176, 4096);
  EXPECT_EQ(out.size(), 2 * 4096u);
  out.clear();
  append_body(out, 1, 4089, 4096);
  EXPECT_EQ(out.size(), 4089u + 16);

  // A frame-max of 0 (no limit) or under the spec's floor: 4096-byte frames.
  for (std::uint32_t frame_max : {0u, 1u, 8u, 9u, 4095u}) {
    out.clear();
    append_body(out, 2, 10000, frame_max);
    EXPECT_EQ(out.size(), 10024u) << frame_max;
    EXPECT_EQ(body_frames_size(10000, frame_max), 10024u) << frame_max;
  }
}

TEST(AmqpEncode, BodyFramesSizeAgreesWithAppendBody) {
  std::mt19937 rng(11);
  for (int round = 0; round < 400; ++round) {
    const std::size_t size = round < 50 ? std::size_t(round) * 97 : rng() % 300'000;
    const std::uint32_t frame_max = round % 4 == 0 ? 4096 : 4096 + rng() % 200'000;
    std::string out = "x";
    const std::size_t first = append_body(out, 5, size, frame_max);
    ASSERT_EQ(out.size() - 1, body_frames_size(size, frame_max)) << size << " " << frame_max;
    EXPECT_EQ(first, 8u);
    const std::vector<Seen> seen = read_all(std::string_view(out).substr(1), frame_max);
    std::size_t total = 0;
    for (const Seen& s : seen) {
      EXPECT_EQ(s.type, FrameType::Body);
      EXPECT_EQ(s.channel, 5);
      EXPECT_LE(s.payload.size() + 8, frame_max);
      EXPECT_FALSE(s.payload.empty());
      total += s.payload.size();
    }
    ASSERT_EQ(total, size) << size << " " << frame_max;
    // Every frame but the last is full.
    for (std::size_t i = 0; i + 1 < seen.size(); ++i)
      ASSERT_EQ(seen[i].payload.size() + 8, frame_max);
  }
}

TEST(AmqpEncode, EveryFrameReadsBack) {
  std::string out;
  encode_protocol_header(out);  // the reader does not take it: cut below
  const std::size_t skip = out.size();
  encode_start_ok(out, "guest", "guest");
  encode_tune_ok(out, 1, 131072, 60);
  encode_open(out, "/");
  encode_channel_open(out, 1);
  encode_confirm_select(out, 1);
  encode_exchange_declare(out, 1, "ex", "topic", true, false);
  encode_queue_declare(out, 1, "q", true, false);
  encode_queue_bind(out, 1, "q", "ex", "k");
  encode_qos(out, 1, 10);
  encode_consume(out, 1, "q", "t", true);
  encode_flow_ok(out, 1, true);
  out += publish_head(1, "ex", "k", true, true, 5000);
  append_body(out, 1, 5000, 4096);
  encode_heartbeat(out);
  encode_close(out, 1, 200, "done");
  encode_close_ok(out, 1);
  encode_close(out, 0, 200, "done");
  encode_close_ok(out, 0);

  const std::vector<Seen> seen = read_all(std::string_view(out).substr(skip));
  const std::vector<std::uint32_t> ids = {method::kStartOk,
                                          method::kTuneOk,
                                          method::kOpen,
                                          method::kChannelOpen,
                                          method::kSelect,
                                          method::kExchangeDeclare,
                                          method::kQueueDeclare,
                                          method::kQueueBind,
                                          method::kQos,
                                          method::kConsume,
                                          method::kFlowOk,
                                          method::kPublish,
                                          0,
                                          0,
                                          0,
                                          0,
                                          method::kChannelClose,
                                          method::kChannelCloseOk,
                                          method::kClose,
                                          method::kCloseOk};
  const std::vector<FrameType> types = {
      FrameType::Method, FrameType::Method, FrameType::Method, FrameType::Method,
      FrameType::Method, FrameType::Method, FrameType::Method, FrameType::Method,
      FrameType::Method, FrameType::Method, FrameType::Method, FrameType::Method,
      FrameType::Header, FrameType::Body,   FrameType::Body,   FrameType::Heartbeat,
      FrameType::Method, FrameType::Method, FrameType::Method, FrameType::Method};
  ASSERT_EQ(seen.size(), ids.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].type, types[i]) << i;
    if (types[i] != FrameType::Method) continue;
    std::string why;
    const auto m = parse_method(seen[i].payload, why);
    ASSERT_TRUE(m) << i << ": " << why;
    EXPECT_EQ(m->id, ids[i]) << i << ": " << method_name(m->id);
  }
  EXPECT_EQ(seen[0].channel, 0);
  EXPECT_EQ(seen[3].channel, 1);
  EXPECT_EQ(seen[15].channel, 0);  // the heartbeat
  EXPECT_TRUE(seen[15].payload.empty());
  EXPECT_EQ(seen[13].payload.size(), 4088u);
  EXPECT_EQ(seen[14].payload.size(), 912u);
}

TEST(AmqpEncode, CheckShortString) {
  EXPECT_EQ(check_short_string(""), "");
  EXPECT_EQ(check_short_string(std::string(255, 'a')), "");
  EXPECT_NE(check_short_string(std::string(256, 'a')), "");
  // A longer one is cut to 255 bytes by the encoders, never mis-framed.
  std::string out;
  encode_queue_declare(out, 1, std::string(300, 'q'), false, false);
  const std::string args = only_method(out, 1, method::kQueueDeclare);
  Reader in{args};
  in.uint(2);
  EXPECT_EQ(in.short_string(), std::string(255, 'q'));
}

// ---- method ids and names ----

TEST(AmqpMethod, Names) {
  EXPECT_EQ(method_id(10, 50), 0x000A0032u);
  EXPECT_EQ(method_name(method::kStart), "connection.start");
  EXPECT_EQ(method_name(method::kClose), "connection.close");
  EXPECT_EQ(method_name(method::kChannelClose), "channel.close");
  EXPECT_EQ(method_name(method::kQueueDeclare), "queue.declare");
  EXPECT_EQ(method_name(method::kPublish), "basic.publish");
  EXPECT_EQ(method_name(method::kNack), "basic.nack");
  EXPECT_EQ(method_name(method::kSelectOk), "confirm.select-ok");
  EXPECT_EQ(method_name(method_id(10, 99)), "method 10.99");
  EXPECT_EQ(method_name(method_id(60, 70)), "method 60.70");  // basic.get: not spoken
  EXPECT_EQ(method_name(0), "method 0.0");
  EXPECT_EQ(method_name(0xFFFFFFFFu), "method 65535.65535");
}

TEST(AmqpMethod, ParseMethod) {
  std::string why;
  const std::string ack = bytes({0, 60, 0, 80, 1, 2});
  const auto m = parse_method(ack, why);  // args point into the payload
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->id, method::kAck);
  EXPECT_EQ(hex(m->args), hex(bytes({1, 2})));
  const auto bare = parse_method(bytes({0, 10, 0, 51}), why);
  ASSERT_TRUE(bare) << why;
  EXPECT_EQ(bare->id, method::kCloseOk);
  EXPECT_TRUE(bare->args.empty());
  for (std::size_t n = 0; n < 4; ++n) {
    std::string w;
    EXPECT_FALSE(parse_method(bytes({0, 10, 0, 51}).substr(0, n), w)) << n;
    EXPECT_FALSE(w.empty()) << n;
  }
}

TEST(AmqpMethod, HasWord) {
  EXPECT_TRUE(has_word("AMQPLAIN PLAIN", "PLAIN"));
  EXPECT_TRUE(has_word("PLAIN AMQPLAIN", "PLAIN"));
  EXPECT_TRUE(has_word("PLAIN", "PLAIN"));
  EXPECT_TRUE(has_word("EXTERNAL PLAIN AMQPLAIN", "PLAIN"));
  EXPECT_FALSE(has_word("AMQPLAIN", "PLAIN"));
  EXPECT_FALSE(has_word("PLAINX AMQPLAIN", "PLAIN"));
  EXPECT_FALSE(has_word("plain", "PLAIN"));
  EXPECT_FALSE(has_word("", "PLAIN"));
  EXPECT_FALSE(has_word("PLAI", "PLAIN"));
  EXPECT_TRUE(has_word("A  PLAIN", "PLAIN"));  // a run of spaces
  EXPECT_TRUE(has_word("PLAIN ", "PLAIN"));
  EXPECT_FALSE(has_word("AMQPLAIN ", "PLAIN"));
}

}  // namespace
}  // namespace lt::amqp
