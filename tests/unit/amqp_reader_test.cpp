// The AMQP frame reader: whole and split streams, frame-max, malformed streams, the protocol
// header, a callback that stops the feed.
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
