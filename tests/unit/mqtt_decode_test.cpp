// The MQTT splitter on any split of the stream and on streams that are not MQTT, and the parsers
// on good, refused, malformed and truncated packets.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "byte_strings.hpp"
#include "mqtt/codec.hpp"

namespace lt::mqtt {
namespace {

using lt::test::bytes;
using lt::test::hex;

// ---- splitter ----

struct Seen {
  Type type;
  std::uint8_t flags;
  std::string body;
};

// Feeds `stream` in pieces of `step` bytes (0 = all at once); false when the splitter refused it.
bool split(Splitter& s, const std::string& stream, std::size_t step, std::vector<Seen>& seen) {
  std::size_t at = 0;
  do {
    const std::size_t n = step ? std::min(step, stream.size() - at) : stream.size() - at;
    const bool ok = s.feed(stream.data() + at, n, [&](const Packet& p) {
      seen.push_back({p.type, p.flags, std::string(p.body)});
      return true;
    });
    if (!ok) return false;
    at += n;
  } while (at < stream.size());
  return true;
}

std::string sample_stream() {
  std::string s;
  s += bytes({0x20, 0x03, 0x00, 0x00, 0x00});  // CONNACK 5.0
  s += bytes({0x90, 0x03, 0x00, 0x01, 0x01});  // SUBACK
  s += bytes({0xD0, 0x00});                    // PINGRESP: empty body
  const PublishHead h = publish_head(Version::V311, "t", 1, false, 300);
  s += h.bytes;
  s[s.size() - 1] = 7;  // id 7
  s += std::string(300, 'p');
  s += bytes({0x40, 0x02, 0x00, 0x07});  // PUBACK
  return s;
}

void expect_sample(const std::vector<Seen>& seen) {
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0].type, Type::Connack);
  EXPECT_EQ(seen[0].body, bytes({0x00, 0x00, 0x00}));
  EXPECT_EQ(seen[1].type, Type::Suback);
  EXPECT_EQ(seen[2].type, Type::Pingresp);
  EXPECT_EQ(seen[2].body, "");
  EXPECT_EQ(seen[3].type, Type::Publish);
  EXPECT_EQ(seen[3].flags, 0x02);
  EXPECT_EQ(seen[3].body.size(), 3u + 2u + 300u);
  EXPECT_EQ(seen[4].type, Type::Puback);
  EXPECT_EQ(seen[4].body, bytes({0x00, 0x07}));
}

TEST(MqttSplitter, ManyPacketsInOneChunk) {
  Splitter s;
  std::vector<Seen> seen;
  ASSERT_TRUE(split(s, sample_stream(), 0, seen)) << s.error();
  expect_sample(seen);
}

TEST(MqttSplitter, AnySplit) {
  const std::string stream = sample_stream();
  for (std::size_t step : {1u, 2u, 3u, 4u, 5u, 7u, 64u, 301u}) {
    Splitter s;
    std::vector<Seen> seen;
    ASSERT_TRUE(split(s, stream, step, seen)) << step << s.error();
    expect_sample(seen);
  }
  // Every single cut point, including inside the multi-byte remaining length.
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    Splitter s;
    std::vector<Seen> seen;
    auto keep = [&](const Packet& p) {
      seen.push_back({p.type, p.flags, std::string(p.body)});
      return true;
    };
    ASSERT_TRUE(s.feed(stream.data(), cut, keep));
    ASSERT_TRUE(s.feed(stream.data() + cut, stream.size() - cut, keep));
    expect_sample(seen);
  }
}

TEST(MqttSplitter, WholePacketsAreNotCopied) {
  const std::string stream = bytes({0x40, 0x02, 0x00, 0x07});
  Splitter s;
  const char* body = nullptr;
  ASSERT_TRUE(s.feed(stream.data(), stream.size(), [&](const Packet& p) {
    body = p.body.data();
    return true;
  }));
  EXPECT_EQ(body, stream.data() + 2);
}

TEST(MqttSplitter, RemainingLengthOfFiveBytesRejected) {
  for (std::size_t step : {0u, 1u}) {
    Splitter s(std::size_t(1) << 30);
    std::vector<Seen> seen;
    EXPECT_FALSE(split(s, bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}), step, seen));
    EXPECT_NE(s.error().find("longer than 4 bytes"), std::string::npos) << s.error();
    EXPECT_TRUE(seen.empty());
    // The error sticks until reset().
    EXPECT_FALSE(s.feed("\xD0\x00", 2, [](const Packet&) { return true; }));
    s.reset();
    EXPECT_TRUE(s.feed("\xD0\x00", 2, [](const Packet&) { return true; }));
  }
  // Four bytes is the longest: 0xFF 0xFF 0xFF 0x7F is the largest length, which is accepted up to
  // the limit (here, not).
  Splitter s;
  std::vector<Seen> seen;
  EXPECT_FALSE(split(s, bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F}), 0, seen));
  EXPECT_NE(s.error().find("over the limit"), std::string::npos) << s.error();
}

TEST(MqttSplitter, OverSizeRejected) {
  Splitter s(10);
  std::vector<Seen> seen;
  EXPECT_TRUE(split(s, bytes({0x30, 0x0A}) + std::string(10, 'x'), 0, seen));  // exactly the limit
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_FALSE(split(s, bytes({0x30, 0x0B}), 1, seen));
  EXPECT_NE(s.error().find("over the limit"), std::string::npos) << s.error();
}

TEST(MqttSplitter, TypeZeroRejected) {
  Splitter s;
  std::vector<Seen> seen;
  EXPECT_FALSE(split(s, bytes({0xD0, 0x00, 0x00, 0x00}), 0, seen));
  EXPECT_EQ(seen.size(), 1u);  // the packets before it are delivered
  EXPECT_FALSE(s.error().empty());
}

TEST(MqttSplitter, CallbackReturningFalseStops) {
  const std::string stream = sample_stream();
  for (std::size_t cut : {std::size_t(0), std::size_t(2), stream.size()}) {
    Splitter s;
    int calls = 0;
    auto stop_second = [&](const Packet&) { return ++calls < 2; };
    ASSERT_TRUE(s.feed(stream.data(), cut, stop_second));
    ASSERT_TRUE(s.feed(stream.data() + cut, stream.size() - cut, stop_second));
    EXPECT_EQ(calls, 2) << cut;
  }
  // The callee may reset the splitter (its connection is closing) before returning false.
  Splitter s;
  std::string stream2 = bytes({0xD0, 0x00, 0xD0, 0x00, 0x20});  // ends with a partial CONNACK
  int calls = 0;
  EXPECT_TRUE(s.feed(stream2.data(), stream2.size(), [&](const Packet&) {
    ++calls;
    s.reset();
    return false;
  }));
  EXPECT_EQ(calls, 1);
}

// ---- parsers ----

TEST(MqttParse, Connack311) {
  std::string why;
  auto c = parse_connack(Version::V311, bytes({0x00, 0x00}), why);
  ASSERT_TRUE(c) << why;
  EXPECT_FALSE(c->session_present);
  EXPECT_EQ(c->code, 0);
  EXPECT_EQ(c->receive_maximum, 65535);
  EXPECT_EQ(c->maximum_qos, 2);
  EXPECT_TRUE(c->retain_available);

  c = parse_connack(Version::V311, bytes({0x01, 0x00}), why);
  ASSERT_TRUE(c) << why;
  EXPECT_TRUE(c->session_present);

  const char* expected[] = {
      "accepted",           "unacceptable protocol version", "identifier rejected",
      "server unavailable", "bad user name or password",     "not authorized"};
  for (int code = 0; code <= 5; ++code) {
    c = parse_connack(Version::V311, bytes({0x00, code}), why);
    ASSERT_TRUE(c) << why;
    EXPECT_EQ(c->code, code);
    EXPECT_EQ(connack_reason(Version::V311, c->code), expected[code]);
  }

  EXPECT_FALSE(parse_connack(Version::V311, bytes({0x02, 0x00}), why));  // reserved flag bit
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(parse_connack(Version::V311, bytes({0x00}), why));
  EXPECT_FALSE(parse_connack(Version::V311, "", why));
  EXPECT_FALSE(parse_connack(Version::V311, bytes({0x00, 0x00, 0x00}), why));
}

TEST(MqttParse, Connack5Properties) {
  const std::string props = bytes({
      0x21, 0x00, 0x0A,                         // Receive Maximum 10
      0x27, 0x00, 0x00, 0x10, 0x00,             // Maximum Packet Size 4096
      0x24, 0x00,                               // Maximum QoS 0
      0x25, 0x00,                               // Retain Available 0
      0x13, 0x00, 0x1E,                         // Server Keep Alive 30
      0x1F, 0x00, 0x02, 'o',  'k',              // Reason String (skipped)
      0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v',  // User Property (skipped)
      0x26, 0x00, 0x00, 0x00, 0x00,             // ... which may repeat
      0x22, 0x00, 0x05,                         // Topic Alias Maximum (skipped)
      0x12, 0x00, 0x03, 'a',  'b',  'c',        // Assigned Client Identifier (skipped)
      0x28, 0x01, 0x29, 0x01, 0x2A, 0x00,       // availability bytes (skipped)
      0x11, 0xFF, 0xFF, 0xFF, 0xFF,             // Session Expiry Interval (skipped)
      0x16, 0x00, 0x01, 0x00,                   // Authentication Data (skipped)
  });
  ASSERT_LT(props.size(), 128u);
  std::string why;
  auto c =
      parse_connack(Version::V5, bytes({0x01, 0x00, static_cast<int>(props.size())}) + props, why);
  ASSERT_TRUE(c) << why;
  EXPECT_TRUE(c->session_present);
  EXPECT_EQ(c->code, 0);
  EXPECT_EQ(c->receive_maximum, 10);
  EXPECT_EQ(c->maximum_packet_size, 4096u);
  EXPECT_EQ(c->maximum_qos, 0);
  EXPECT_FALSE(c->retain_available);
  EXPECT_EQ(c->server_keepalive_s, 30);

  c = parse_connack(Version::V5, bytes({0x00, 0x00, 0x00}), why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->receive_maximum, 65535);
  EXPECT_EQ(c->maximum_packet_size, 0u);
  EXPECT_EQ(c->maximum_qos, 2);
  EXPECT_TRUE(c->retain_available);
  EXPECT_EQ(c->server_keepalive_s, 0);
}

TEST(MqttParse, Connack5Refusals) {
  std::string why;
  auto c = parse_connack(Version::V5, bytes({0x00, 0x87, 0x00}), why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->code, 0x87);
  EXPECT_EQ(connack_reason(Version::V5, c->code), "not authorized");
  c = parse_connack(Version::V5, bytes({0x00, 0x86, 0x04, 0x1F, 0x00, 0x01, '!'}), why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(connack_reason(Version::V5, c->code), "bad user name or password");
  EXPECT_EQ(connack_reason(Version::V5, 0x84), "unsupported protocol version");
  EXPECT_EQ(connack_reason(Version::V5, 0x9F), "connection rate exceeded");
  EXPECT_EQ(reason_name(0x00), "success");
  EXPECT_EQ(reason_name(0x10), "no matching subscribers");
  EXPECT_EQ(reason_name(0x8E), "session taken over");
  EXPECT_EQ(reason_name(0xA2), "wildcard subscriptions not supported");
  EXPECT_EQ(reason_name(0x7F), "unknown reason code");
}

TEST(MqttParse, Connack5Malformed) {
  const std::vector<std::string> bad = {
      bytes({0x00, 0x00}),                                            // no property length
      bytes({0x00, 0x00, 0x03, 0x21, 0x00, 0x00}),                    // Receive Maximum 0
      bytes({0x00, 0x00, 0x05, 0x27, 0x00, 0x00, 0x00, 0x00}),        // Maximum Packet Size 0
      bytes({0x00, 0x00, 0x02, 0x24, 0x02}),                          // Maximum QoS 2
      bytes({0x00, 0x00, 0x02, 0x25, 0x02}),                          // Retain Available 2
      bytes({0x00, 0x00, 0x02, 0x7F, 0x00}),                          // unknown property
      bytes({0x00, 0x00, 0x02, 0x00, 0x00}),                          // property 0
      bytes({0x00, 0x00, 0x02, 0x21, 0x00}),                          // truncated value
      bytes({0x00, 0x00, 0x05, 0x21, 0x00, 0x01}),                    // length past the end
      bytes({0x00, 0x00, 0x80}),                                      // truncated property length
      bytes({0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF}),                    // property length of 5 bytes
      bytes({0x00, 0x00, 0x06, 0x21, 0x00, 0x01, 0x21, 0x00, 0x02}),  // twice
      bytes({0x00, 0x00, 0x04, 0x1F, 0x00, 0x05, 'a'}),  // string past the property list
      bytes({0x00, 0x00, 0x00, 0x00}),                   // trailing byte
      bytes({0x80, 0x00, 0x00}),                         // reserved flag bit
  };
  for (const std::string& b : bad) {
    std::string why;
    EXPECT_FALSE(parse_connack(Version::V5, b, why)) << hex(b);
    EXPECT_FALSE(why.empty()) << hex(b);
  }
}

TEST(MqttParse, Acks) {
  std::string why;
  auto a = parse_ack(Version::V311, bytes({0x12, 0x34}), why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->id, 0x1234);
  EXPECT_EQ(a->reason, 0);
  EXPECT_FALSE(parse_ack(Version::V311, bytes({0x00, 0x00}), why));  // id 0
  EXPECT_FALSE(parse_ack(Version::V311, bytes({0x01}), why));
  EXPECT_FALSE(parse_ack(Version::V311, "", why));
  EXPECT_FALSE(parse_ack(Version::V311, bytes({0x00, 0x01, 0x00}), why));

  a = parse_ack(Version::V5, bytes({0x00, 0x07}), why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->reason, 0);
  a = parse_ack(Version::V5, bytes({0x00, 0x07, 0x10}), why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->reason, 0x10);
  a = parse_ack(Version::V5, bytes({0x00, 0x07, 0x97, 0x00}), why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->reason, 0x97);
  a = parse_ack(Version::V5, bytes({0x00, 0x07, 0x80, 0x04, 0x1F, 0x00, 0x01, 'x'}), why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->reason, 0x80);

  EXPECT_FALSE(parse_ack(Version::V5, bytes({0x00, 0x00, 0x00}), why));
  EXPECT_FALSE(parse_ack(Version::V5, bytes({0x00, 0x07, 0x80, 0x05, 0x1F, 0x00, 0x01, 'x'}), why));
  EXPECT_FALSE(parse_ack(Version::V5, bytes({0x00, 0x07, 0x80, 0x00, 0x00}), why));
  EXPECT_FALSE(parse_ack(Version::V5, bytes({0x00, 0x07, 0x80, 0x81}), why));
}

TEST(MqttParse, Suback) {
  std::string why;
  auto s = parse_suback(Version::V311, bytes({0x00, 0x0A, 0x01, 0x80, 0x00}), why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->id, 10);
  EXPECT_EQ(s->codes, (std::vector<std::uint8_t>{1, 0x80, 0}));
  s = parse_suback(Version::V5, bytes({0x00, 0x0A, 0x03, 0x1F, 0x00, 0x00, 0x02, 0x97}), why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->codes, (std::vector<std::uint8_t>{2, 0x97}));

  EXPECT_FALSE(parse_suback(Version::V311, bytes({0x00, 0x0A}), why));  // no codes
  EXPECT_FALSE(parse_suback(Version::V311, bytes({0x00, 0x00, 0x01}), why));
  EXPECT_FALSE(parse_suback(Version::V311, bytes({0x00, 0x0A, 0x03}), why));
  EXPECT_FALSE(parse_suback(Version::V311, bytes({0x00, 0x0A, 0x97}), why));  // 5.0 only
  EXPECT_FALSE(parse_suback(Version::V5, bytes({0x00, 0x0A, 0x00}), why));    // no codes
  EXPECT_FALSE(parse_suback(Version::V5, bytes({0x00, 0x0A, 0x05, 0x00}), why));
  EXPECT_FALSE(parse_suback(Version::V5, bytes({0x00, 0x0A}), why));
  EXPECT_FALSE(parse_suback(Version::V5, bytes({0x00}), why));
}

TEST(MqttParse, Publish) {
  std::string why;
  // The result points into the body, so the bodies outlive it.
  const std::string body1 = bytes({0x00, 0x01, 't', 0x00, 0x09, 'h', 'i'});
  auto m = parse_publish(Version::V311, 0x0B, body1, why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->qos, 1);
  EXPECT_TRUE(m->dup);
  EXPECT_TRUE(m->retain);
  EXPECT_EQ(m->topic, "t");
  EXPECT_EQ(m->id, 9);
  EXPECT_EQ(m->payload, "hi");

  // 5.0 with Payload Format Indicator, Subscription Identifiers (which may repeat), Topic Alias.
  const std::string body2 =
      bytes({0x00, 0x00, 0x0A, 0x01, 0x01, 0x0B, 0x05, 0x0B, 0x80, 0x01, 0x23, 0x00, 0x01, 'p'});
  m = parse_publish(Version::V5, 0x00, body2, why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->qos, 0);
  EXPECT_EQ(m->topic, "");
  EXPECT_EQ(m->payload, "p");

  const std::string body3 = bytes({0x00, 0x01, 't'});
  m = parse_publish(Version::V311, 0x00, body3, why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->payload, "");

  EXPECT_FALSE(parse_publish(Version::V311, 0x06, bytes({0x00, 0x01, 't', 0x00, 0x01}), why));
  EXPECT_NE(why.find("QoS 3"), std::string::npos);
  EXPECT_FALSE(parse_publish(Version::V311, 0x02, bytes({0x00, 0x01, 't', 0x00, 0x00}), why));
  EXPECT_FALSE(parse_publish(Version::V311, 0x02, bytes({0x00, 0x01, 't', 0x00}), why));
  EXPECT_FALSE(parse_publish(Version::V311, 0x00, bytes({0x00, 0x05, 't'}), why));
  EXPECT_FALSE(parse_publish(Version::V311, 0x00, bytes({0x00}), why));
  EXPECT_FALSE(parse_publish(Version::V311, 0x00, bytes({0x00, 0x00}), why));     // empty topic
  EXPECT_FALSE(parse_publish(Version::V5, 0x00, bytes({0x00, 0x01, 't'}), why));  // no properties
  EXPECT_FALSE(parse_publish(Version::V5, 0x00, bytes({0x00, 0x01, 't', 0x02, 0x23}), why));
}

TEST(MqttParse, DisconnectReason) {
  EXPECT_EQ(parse_disconnect_reason(Version::V5, ""), 0);
  EXPECT_EQ(parse_disconnect_reason(Version::V5, bytes({0x8E})), 0x8E);
  EXPECT_EQ(parse_disconnect_reason(Version::V5, bytes({0x98, 0x00})), 0x98);
  EXPECT_EQ(parse_disconnect_reason(Version::V311, bytes({0x98})), 0);
}

TEST(MqttRoundTrip, PublishThroughSplitterAndParser) {
  for (Version v : {Version::V311, Version::V5}) {
    for (std::uint8_t qos : {std::uint8_t(0), std::uint8_t(1), std::uint8_t(2)}) {
      for (std::size_t size :
           {std::size_t(0), std::size_t(1), std::size_t(200), std::size_t(70000)}) {
        PublishHead h = publish_head(v, "devices/42/telemetry", qos, qos == 1, size);
        std::string packet = h.bytes;
        if (qos > 0) {
          packet[h.id_offset] = 0x01;
          packet[h.id_offset + 1] = 0x02;
        }
        std::string payload(size, '\0');
        for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i * 7);
        packet += payload;
        const std::string stream = packet + packet;

        for (std::size_t step : {0u, 1u, 1000u}) {
          if (step == 1 && size > 200) continue;
          Splitter s;
          std::vector<Seen> seen;
          ASSERT_TRUE(split(s, stream, step, seen)) << s.error();
          ASSERT_EQ(seen.size(), 2u);
          for (const Seen& p : seen) {
            ASSERT_EQ(p.type, Type::Publish);
            std::string why;
            auto m = parse_publish(v, p.flags, p.body, why);
            ASSERT_TRUE(m) << why;
            EXPECT_EQ(m->qos, qos);
            EXPECT_EQ(m->retain, qos == 1);
            EXPECT_FALSE(m->dup);
            EXPECT_EQ(m->topic, "devices/42/telemetry");
            EXPECT_EQ(m->id, qos > 0 ? 0x0102 : 0);
            EXPECT_EQ(m->payload, payload);
          }
        }
      }
    }
  }
}

// Random and mutated input never crashes anything (run under the sanitizer build to mean much;
// the libFuzzer target goes further).
TEST(MqttRobustness, RandomInput) {
  std::mt19937 rng(12345);
  const std::string seed = sample_stream();
  for (int round = 0; round < 20000; ++round) {
    std::string b;
    if (round % 2 == 0) {
      b.resize(rng() % 40);
      for (char& c : b) c = static_cast<char>(rng());
    } else {
      b = seed.substr(rng() % seed.size(), rng() % 40);
      for (int i = 0; i < 3 && !b.empty(); ++i) b[rng() % b.size()] = static_cast<char>(rng());
    }
    std::string why;
    for (Version v : {Version::V311, Version::V5}) {
      (void)parse_connack(v, b, why);
      (void)parse_ack(v, b, why);
      (void)parse_suback(v, b, why);
      (void)parse_publish(v, static_cast<std::uint8_t>(rng() & 15), b, why);
      (void)parse_disconnect_reason(v, b);
    }
    Splitter s(64);
    std::size_t total = 0;
    const std::size_t cut = b.empty() ? 0 : rng() % b.size();
    auto count = [&](const Packet& p) {
      total += p.body.size();
      return true;
    };
    if (s.feed(b.data(), cut, count)) (void)s.feed(b.data() + cut, b.size() - cut, count);
    EXPECT_LE(total, b.size());
  }
}

}  // namespace
}  // namespace lt::mqtt
