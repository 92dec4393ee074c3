// The AMQP 0-9-1 codec: the encoders byte for byte against the spec's layouts (hand-computed),
// the frame reader on any split of a stream and on streams that are not AMQP 0-9-1 frames, and
// the argument parsers on well-formed and on cut-short arguments.
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
#include "byte_strings.hpp"

namespace lt::amqp {
namespace {

// ---- helpers ----

using lt::test::bytes;
using lt::test::hex;

std::string be16(std::uint16_t v) {
  return bytes({v >> 8, v & 0xff});
}
std::string be32(std::uint32_t v) {
  return be16(std::uint16_t(v >> 16)) + be16(std::uint16_t(v));
}
std::string be64(std::uint64_t v) {
  return be32(std::uint32_t(v >> 32)) + be32(std::uint32_t(v));
}
std::string shortstr(std::string_view s) {
  return bytes({int(s.size())}) + std::string(s);
}
std::string longstr(std::string_view s) {
  return be32(std::uint32_t(s.size())) + std::string(s);
}

// A whole frame around `payload`, built independently of the encoders.
std::string frame(int type, std::uint16_t channel, std::string_view payload) {
  return bytes({type}) + be16(channel) + be32(std::uint32_t(payload.size())) +
         std::string(payload) + bytes({0xCE});
}
std::string method_frame(std::uint16_t channel, std::uint32_t id, std::string_view args) {
  return frame(1, channel, be32(id) + std::string(args));
}

struct Seen {
  FrameType type;
  std::uint16_t channel;
  std::string payload;
  bool operator==(const Seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << "{type " << int(s.type) << " channel " << s.channel << " payload " << hex(s.payload)
            << "}";
}

// Feeds `stream` cut at `cuts` (ascending offsets); false when the reader refused it.
bool feed_cut(FrameReader& r, std::string_view stream, const std::vector<std::size_t>& cuts,
              std::vector<Seen>& seen) {
  std::size_t at = 0;
  auto keep = [&](const Frame& f) {
    seen.push_back({f.type, f.channel, std::string(f.payload)});
    return true;
  };
  for (std::size_t cut : cuts) {
    if (!r.feed(stream.data() + at, cut - at, keep)) return false;
    at = cut;
  }
  return r.feed(stream.data() + at, stream.size() - at, keep);
}

// Feeds `stream` in pieces of `step` bytes (0 = all at once).
bool feed_steps(FrameReader& r, std::string_view stream, std::size_t step,
                std::vector<Seen>& seen) {
  std::vector<std::size_t> cuts;
  for (std::size_t at = step; step != 0 && at < stream.size(); at += step) cuts.push_back(at);
  return feed_cut(r, stream, cuts, seen);
}

// The frames of a stream that must be wholly well-formed.
std::vector<Seen> read_all(std::string_view stream, std::uint32_t frame_max = 128 * 1024) {
  FrameReader r(frame_max);
  std::vector<Seen> seen;
  EXPECT_TRUE(feed_cut(r, stream, {}, seen)) << r.error();
  return seen;
}

// The single method frame `out` holds, checked to be one whole frame on `channel` with `id`;
// returns its arguments.
std::string only_method(const std::string& out, std::uint16_t channel, std::uint32_t id) {
  const std::vector<Seen> seen = read_all(out);
  EXPECT_EQ(seen.size(), 1u);
  if (seen.size() != 1) return {};
  EXPECT_EQ(seen[0].type, FrameType::Method);
  EXPECT_EQ(seen[0].channel, channel);
  std::string why;
  const auto m = parse_method(seen[0].payload, why);
  EXPECT_TRUE(m) << why;
  if (!m) return {};
  EXPECT_EQ(m->id, id) << method_name(m->id);
  return std::string(m->args);
}

// A field table as the encoder writes them: 'S' long strings, 't' booleans, 'F' nested tables.
struct Table {
  std::map<std::string, std::string> text;
  std::map<std::string, bool> flags;
  std::map<std::string, Table> tables;
};

// Reads big-endian fields off the front of `s`; `ok` turns false at the first short read.
struct Reader {
  std::string_view s;
  bool ok = true;
  std::string_view take(std::size_t n) {
    if (!ok || s.size() < n) {
      ok = false;
      return {};
    }
    const std::string_view v = s.substr(0, n);
    s.remove_prefix(n);
    return v;
  }
  std::uint64_t uint(std::size_t n) {
    std::uint64_t v = 0;
    for (unsigned char c : take(n)) v = v << 8 | c;
    return v;
  }
  std::string_view short_string() { return take(uint(1)); }
  std::string_view long_string() { return take(uint(4)); }
  // A table: its length field must cover exactly its entries.
  Table table() {
    Table t;
    Reader in{long_string()};
    while (ok && in.ok && !in.s.empty()) {
      const std::string key(in.short_string());
      switch (in.uint(1)) {
        case 'S':
          t.text[key] = std::string(in.long_string());
          break;
        case 't':
          t.flags[key] = in.uint(1) != 0;
          break;
        case 'F':
          t.tables[key] = in.table();
          break;
        default:
          in.ok = false;
      }
    }
    ok = ok && in.ok;
    return t;
  }
};

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

const std::string kServerProperties = shortstr("product") + "S" + longstr("RabbitMQ") +
                                      shortstr("capabilities") + "F" +
                                      longstr(shortstr("publisher_confirms") + "t" + bytes({1}));

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

// ---- frame reader ----

// What a broker sends a publisher and a consumer, and a frame of each type.
const std::string kStream =
    method_frame(
        0, method::kStart,
        bytes({0, 9}) + longstr(kServerProperties) + longstr("AMQPLAIN PLAIN") + longstr("en_US")) +
    method_frame(0, method::kTune, be16(2047) + be32(131072) + be16(60)) +
    method_frame(0, method::kOpenOk, shortstr("")) +
    method_frame(1, method::kChannelOpenOk, longstr("")) + method_frame(1, method::kSelectOk, "") +
    method_frame(1, method::kAck, be64(1) + bytes({0})) +
    method_frame(1, method::kReturn,
                 be16(312) + shortstr("NO_ROUTE") + shortstr("ex") + shortstr("k")) +
    frame(2, 1, be16(60) + be16(0) + be64(3) + be16(0)) + frame(3, 1, "abc") +
    method_frame(1, method::kDeliver,
                 shortstr("t") + be64(9) + bytes({0}) + shortstr("ex") + shortstr("k")) +
    frame(2, 1, be16(60) + be16(0) + be64(5) + be16(0x1000) + bytes({2})) + frame(3, 1, "he") +
    frame(3, 1, "llo") + frame(3, 1, "") + frame(8, 0, "") +
    method_frame(0, method::kClose, be16(320) + shortstr("bye") + be32(0));

std::vector<Seen> sample_seen() {
  return read_all(kStream);
}

TEST(AmqpReader, WholeStream) {
  const std::vector<Seen> seen = sample_seen();
  ASSERT_EQ(seen.size(), 16u);
  const FrameType types[] = {
      FrameType::Method, FrameType::Method, FrameType::Method,    FrameType::Method,
      FrameType::Method, FrameType::Method, FrameType::Method,    FrameType::Header,
      FrameType::Body,   FrameType::Method, FrameType::Header,    FrameType::Body,
      FrameType::Body,   FrameType::Body,   FrameType::Heartbeat, FrameType::Method};
  const std::uint16_t channels[] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].type, types[i]) << i;
    EXPECT_EQ(seen[i].channel, channels[i]) << i;
  }
  EXPECT_EQ(seen[8].payload, "abc");
  EXPECT_EQ(seen[11].payload + seen[12].payload, "hello");
  EXPECT_TRUE(seen[13].payload.empty());

  std::string why;
  const auto start = parse_method(seen[0].payload, why);
  ASSERT_TRUE(start) << why;
  ASSERT_EQ(start->id, method::kStart);
  const auto s = parse_start(start->args, why);
  ASSERT_TRUE(s) << why;
  EXPECT_TRUE(has_word(s->mechanisms, "PLAIN"));
  const auto deliver = parse_method(seen[9].payload, why);
  ASSERT_TRUE(deliver && deliver->id == method::kDeliver);
  const auto d = parse_deliver(deliver->args, why);
  ASSERT_TRUE(d) << why;
  EXPECT_EQ(d->delivery_tag, 9u);
  const auto h = parse_content_header(seen[10].payload, why);
  ASSERT_TRUE(h) << why;
  EXPECT_EQ(h->body_size, 5u);
}

TEST(AmqpReader, EverySplitGivesTheSameFrames) {
  const std::vector<Seen> want = sample_seen();
  for (std::size_t cut = 0; cut <= kStream.size(); ++cut) {
    FrameReader r;
    std::vector<Seen> seen;
    ASSERT_TRUE(feed_cut(r, kStream, {cut}, seen)) << cut << ": " << r.error();
    ASSERT_EQ(seen, want) << cut;
  }
  for (std::size_t step : {1u, 2u, 3u, 7u, 8u, 9u, 16u, 64u}) {
    FrameReader r;
    std::vector<Seen> seen;
    ASSERT_TRUE(feed_steps(r, kStream, step, seen)) << step << ": " << r.error();
    ASSERT_EQ(seen, want) << step;
  }
  // Every pair of cuts, which puts a frame's header in three reads.
  for (std::size_t a = 1; a < 40; ++a) {
    for (std::size_t b = a; b <= kStream.size(); ++b) {
      FrameReader r;
      std::vector<Seen> seen;
      ASSERT_TRUE(feed_cut(r, kStream, {a, b}, seen)) << a << " " << b << ": " << r.error();
      ASSERT_EQ(seen, want) << a << " " << b;
    }
  }
  std::mt19937 rng(5);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = rng() % 9; at < kStream.size(); at += rng() % 20) cuts.push_back(at);
    FrameReader r;
    std::vector<Seen> seen;
    ASSERT_TRUE(feed_cut(r, kStream, cuts, seen)) << r.error();
    ASSERT_EQ(seen, want) << round;
  }
}

TEST(AmqpReader, EmptyReadsAreHarmless) {
  FrameReader r;
  std::vector<Seen> seen;
  auto keep = [&](const Frame& f) {
    seen.push_back({f.type, f.channel, std::string(f.payload)});
    return true;
  };
  EXPECT_TRUE(r.feed(nullptr, 0, keep));
  for (std::size_t at = 0; at < kStream.size(); ++at) {
    ASSERT_TRUE(r.feed(kStream.data() + at, 1, keep)) << r.error();
    ASSERT_TRUE(r.feed(kStream.data() + at + 1, 0, keep)) << r.error();
  }
  EXPECT_EQ(seen, sample_seen());
}

TEST(AmqpReader, WholeFramesAreNotCopied) {
  const std::string stream = frame(3, 1, "abc") + frame(8, 0, "") + frame(3, 2, "xy");
  FrameReader r;
  std::vector<const char*> at;
  ASSERT_TRUE(r.feed(stream.data(), stream.size(), [&](const Frame& f) {
    at.push_back(f.payload.data());
    return true;
  }));
  ASSERT_EQ(at.size(), 3u);
  EXPECT_EQ(at[0], stream.data() + 7);
  EXPECT_EQ(at[2], stream.data() + 11 + 8 + 7);
}

TEST(AmqpReader, LargeFramesAcrossManyReads) {
  std::string body(131072 - 8, '\0');
  std::mt19937 rng(3);
  for (char& c : body) c = static_cast<char>(rng());
  const std::string stream = frame(3, 1, body) + frame(8, 0, "") + frame(3, 1, "z");
  for (std::size_t step : {1u, 1000u, 4096u, 65536u, 1u << 20}) {
    FrameReader r(131072);
    std::vector<Seen> seen;
    ASSERT_TRUE(feed_steps(r, stream, step, seen)) << step << ": " << r.error();
    ASSERT_EQ(seen.size(), 3u) << step;
    EXPECT_TRUE(seen[0].payload == body) << step;
    EXPECT_EQ(seen[1].type, FrameType::Heartbeat);
    EXPECT_EQ(seen[2].payload, "z");
  }
}

TEST(AmqpReader, FrameMax) {
  // A frame of exactly frame-max bytes passes; one byte more is refused once its header is in.
  for (std::uint32_t frame_max : {4096u, 131072u}) {
    const std::string fits = frame(3, 1, std::string(frame_max - 8, 'a'));
    const std::string over = frame(3, 1, std::string(frame_max - 7, 'a'));
    for (std::size_t step : {std::size_t(0), std::size_t(1), std::size_t(1000)}) {
      FrameReader r(frame_max);
      std::vector<Seen> seen;
      EXPECT_TRUE(feed_steps(r, fits, step, seen)) << r.error();
      EXPECT_EQ(seen.size(), 1u);
      seen.clear();
      EXPECT_FALSE(feed_steps(r, over, step, seen)) << frame_max << " " << step;
      EXPECT_TRUE(seen.empty());
      EXPECT_NE(r.error().find("over the frame-max of " + std::to_string(frame_max)),
                std::string::npos)
          << r.error();
    }
    // Refused from its header and one more byte, before the payload arrives.
    FrameReader r(frame_max);
    std::vector<Seen> seen;
    EXPECT_FALSE(feed_cut(r, std::string_view(over).substr(0, 8), {}, seen));
    EXPECT_FALSE(r.error().empty());
  }
  // set_frame_max() applies to the frames after it.
  const std::string big = frame(3, 1, std::string(10000, 'b'));
  FrameReader r(4096);
  std::vector<Seen> seen;
  EXPECT_FALSE(feed_cut(r, big, {}, seen));
  r.reset();
  r.set_frame_max(16384);
  EXPECT_TRUE(feed_cut(r, big, {}, seen)) << r.error();
  ASSERT_EQ(seen.size(), 1u);
  r.set_frame_max(4096);
  EXPECT_FALSE(feed_cut(r, big, {}, seen));
  EXPECT_NE(r.error().find("a frame of 10008 bytes, over the frame-max of 4096"), std::string::npos)
      << r.error();
  // A size field near 2^32 is refused, not wrapped.
  FrameReader huge(0xFFFFFFFFu);
  EXPECT_FALSE(feed_cut(huge, bytes({3, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0}), {}, seen));
  EXPECT_NE(huge.error().find("4294967303"), std::string::npos) << huge.error();
}

TEST(AmqpReader, MalformedStreamsAreRefused) {
  struct Case {
    std::string stream;
    std::string error;  // a part of the message
    std::size_t delivered = 0;
  };
  const std::string ok = frame(8, 0, "") + method_frame(1, method::kSelectOk, "");
  std::string no_end = frame(3, 1, "abc");
  no_end.back() = '\0';
  std::string end_early = frame(3, 1, "abc");
  end_early.back() = 'c';
  const std::vector<Case> cases = {
      {frame(0, 0, ""), "an unknown frame type 0"},
      {frame(4, 0, "x"), "an unknown frame type 4"},
      {frame(9, 0, ""), "an unknown frame type 9"},
      {frame(0xCE, 0, ""), "an unknown frame type 206"},
      {ok + frame(4, 1, "abc"), "an unknown frame type 4", 2},
      {no_end, "a frame without its frame-end octet"},
      {ok + end_early, "a frame without its frame-end octet", 2},
      {frame(3, 1, "abc") + "x" + frame(8, 0, ""), "an unknown frame type 120", 1},
      {frame(3, 1, std::string(5000, 'x')), "a frame of 5008 bytes, over the frame-max of 4096"},
      {ok + "AMQP" + std::string("\0\0\x09\x01", 4), "an unknown frame type 65", 2},
      {std::string(kProtocolHeader), "protocol header (AMQP 0-9-1)"},
      {std::string("AMQP\x00\x01\x00\x00", 8), "protocol header (AMQP 1.0)"},
      {std::string("AMQP\x03\x01\x00\x00", 8), "protocol header (AMQP 1.0)"},
      {std::string("AMQP\x01\x01\x00\x0a", 8), "protocol header (AMQP 0-10)"},
      {std::string("AMQP\x01\x01\x00\x09", 8), "protocol header (AMQP 0-9)"},
  };
  for (const Case& c : cases) {
    for (std::size_t step : {c.stream.size(), std::size_t(1), std::size_t(3)}) {
      FrameReader r(4096);
      std::vector<Seen> seen;
      EXPECT_FALSE(feed_steps(r, c.stream, step, seen)) << hex(c.stream);
      EXPECT_NE(r.error().find(c.error), std::string::npos) << hex(c.stream) << " -> " << r.error();
      EXPECT_EQ(seen.size(), c.delivered) << hex(c.stream);
      // The error sticks until reset(): later reads are refused unread.
      int calls = 0;
      auto count = [&](const Frame&) {
        ++calls;
        return true;
      };
      const std::string error = r.error();
      EXPECT_FALSE(r.feed(ok.data(), ok.size(), count));
      EXPECT_FALSE(r.feed(ok.data(), 1, count));
      EXPECT_FALSE(r.feed(ok.data(), 0, count));
      EXPECT_EQ(calls, 0);
      EXPECT_EQ(r.error(), error);
      r.reset();
      EXPECT_TRUE(r.error().empty());
      EXPECT_TRUE(r.feed(ok.data(), ok.size(), count)) << r.error();
      EXPECT_EQ(calls, 2);
    }
  }
}

TEST(AmqpReader, ProtocolHeaderOnlyAtTheStart) {
  // The protocol header cut anywhere, and mentioning "AMQP" only when it starts the stream.
  for (std::size_t cut = 0; cut <= kProtocolHeader.size(); ++cut) {
    FrameReader r;
    std::vector<Seen> seen;
    EXPECT_FALSE(feed_cut(r, kProtocolHeader, {cut}, seen)) << cut;
    EXPECT_NE(r.error().find("0-9-1"), std::string::npos) << r.error();
  }
  // After reset() the next stream is a new one: its start is checked again.
  FrameReader r;
  std::vector<Seen> seen;
  ASSERT_TRUE(feed_cut(r, frame(8, 0, ""), {}, seen));
  r.reset();
  EXPECT_FALSE(feed_cut(r, std::string("AMQP\x00\x01\x00\x00", 8), {}, seen));
  EXPECT_NE(r.error().find("AMQP 1.0"), std::string::npos) << r.error();
  // A partial frame is dropped by reset().
  r.reset();
  ASSERT_TRUE(feed_cut(r, frame(3, 1, "abc").substr(0, 9), {}, seen));
  r.reset();
  seen.clear();
  ASSERT_TRUE(feed_cut(r, frame(3, 2, "xy"), {}, seen)) << r.error();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].channel, 2);
  EXPECT_EQ(seen[0].payload, "xy");
}

TEST(AmqpReader, CallbackStopsTheFeed) {
  // Whole frames in one read, and a frame completed from an earlier read.
  const std::size_t first_frame = read_all(kStream)[0].payload.size() + 8;
  for (std::size_t cut : {std::size_t(0), std::size_t(5), first_frame + 3}) {
    FrameReader r;
    int calls = 0;
    auto stop_at_second = [&](const Frame&) { return ++calls < 2; };
    std::size_t at = 0;
    if (cut != 0) {
      ASSERT_TRUE(r.feed(kStream.data(), cut, stop_at_second));
      at = cut;
    }
    // true: the stream is well-formed; the callback's false only stops this read.
    EXPECT_TRUE(r.feed(kStream.data() + at, kStream.size() - at, stop_at_second)) << cut;
    EXPECT_EQ(calls, 2) << cut;
    EXPECT_TRUE(r.error().empty());
  }
  // A callback that resets the reader and stops: the next stream starts afresh.
  FrameReader r;
  std::vector<Seen> seen;
  const std::string first = frame(8, 0, "");
  std::string two = frame(3, 1, "abc") + frame(3, 1, "def");
  EXPECT_TRUE(r.feed(two.data(), 5, [](const Frame&) { return true; }));
  EXPECT_TRUE(r.feed(two.data() + 5, two.size() - 5, [&](const Frame& f) {
    seen.push_back({f.type, f.channel, std::string(f.payload)});
    r.reset();
    return false;
  }));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].payload, "abc");
  seen.clear();
  ASSERT_TRUE(feed_cut(r, first, {}, seen)) << r.error();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].type, FrameType::Heartbeat);
}

}  // namespace
}  // namespace lt::amqp
