// The NATS reader on any split of the stream and on streams that are not NATS, INFO's JSON, and
// the status of an HMSG header block.
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "nats/codec.hpp"

namespace lt::nats {
namespace {

// ---- reader ----

struct Seen {
  Op op;
  std::string subject, sid, reply, headers, payload, text;
  bool operator==(const Seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << "{op " << int(s.op) << " subject " << testing::PrintToString(s.subject) << " sid "
            << s.sid << " reply " << s.reply << " headers " << testing::PrintToString(s.headers)
            << " payload " << testing::PrintToString(s.payload) << " text "
            << testing::PrintToString(s.text) << "}";
}

Seen seen_of(const Message& m) {
  auto s = [](std::string_view v) { return std::string(v); };
  return {m.op, s(m.subject), s(m.sid), s(m.reply), s(m.headers), s(m.payload), s(m.text)};
}

// Feeds `stream` cut at `cuts` (ascending offsets); false when the reader refused it.
bool feed_cut(Reader& r, const std::string& stream, const std::vector<std::size_t>& cuts,
              std::vector<Seen>& seen) {
  std::size_t at = 0;
  auto keep = [&](const Message& m) {
    seen.push_back(seen_of(m));
    return true;
  };
  for (std::size_t cut : cuts) {
    if (!r.feed(stream.data() + at, cut - at, keep)) return false;
    at = cut;
  }
  return r.feed(stream.data() + at, stream.size() - at, keep);
}

// Feeds `stream` in pieces of `step` bytes (0 = all at once).
bool feed_steps(Reader& r, const std::string& stream, std::size_t step, std::vector<Seen>& seen) {
  std::vector<std::size_t> cuts;
  for (std::size_t at = step; step != 0 && at < stream.size(); at += step) cuts.push_back(at);
  return feed_cut(r, stream, cuts, seen);
}

const std::string kSample =
    "INFO {\"server_id\":\"N1\",\"max_payload\":1048576,\"headers\":true} \r\n"
    "MSG dev.1 1 5\r\nhello\r\n"
    "MSG dev.2 12 _INBOX.a.1 4\r\na\r\nb\r\n"  // a CRLF inside a payload is just payload
    "HMSG _INBOX.a.7 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    "HMSG dev.3 1 reply.x 18 21\r\nNATS/1.0\r\nA: b\r\n\r\nabc\r\n"
    "PING\r\n"
    "PONG\r\n"
    "+OK\r\n"
    "-ERR 'Authorization Violation'\r\n"
    "msg\tdev.4  2\t 0\r\n\r\n"  // any case, runs of blanks, an empty payload
    "ping\n"                     // a bare LF ends a control line too
    "-ERR unquoted  \r\n";

const std::vector<Seen> kSampleSeen = {
    {Op::Info, "", "", "", "", "",
     "{\"server_id\":\"N1\",\"max_payload\":1048576,\"headers\":true}"},
    {Op::Msg, "dev.1", "1", "", "", "hello", ""},
    {Op::Msg, "dev.2", "12", "_INBOX.a.1", "", "a\r\nb", ""},
    {Op::Msg, "_INBOX.a.7", "3", "", "NATS/1.0 503\r\n\r\n", "", ""},
    {Op::Msg, "dev.3", "1", "reply.x", "NATS/1.0\r\nA: b\r\n\r\n", "abc", ""},
    {Op::Ping, "", "", "", "", "", ""},
    {Op::Pong, "", "", "", "", "", ""},
    {Op::Ok, "", "", "", "", "", ""},
    {Op::Err, "", "", "", "", "", "Authorization Violation"},
    {Op::Msg, "dev.4", "2", "", "", "", ""},
    {Op::Ping, "", "", "", "", "", ""},
    {Op::Err, "", "", "", "", "", "unquoted"},
};

TEST(NatsReader, WholeStream) {
  Reader r;
  std::vector<Seen> seen;
  ASSERT_TRUE(feed_cut(r, kSample, {}, seen)) << r.error();
  EXPECT_EQ(seen, kSampleSeen);
  EXPECT_EQ(header_status(seen[3].headers), 503);
  EXPECT_EQ(header_status(seen[4].headers), 0);
}

TEST(NatsReader, EverySplitGivesTheSameOperations) {
  for (std::size_t cut = 0; cut <= kSample.size(); ++cut) {
    Reader r;
    std::vector<Seen> seen;
    ASSERT_TRUE(feed_cut(r, kSample, {cut}, seen)) << cut << ": " << r.error();
    ASSERT_EQ(seen, kSampleSeen) << cut;
  }
  for (std::size_t step : {1u, 2u, 3u, 7u, 16u, 64u}) {
    Reader r;
    std::vector<Seen> seen;
    ASSERT_TRUE(feed_steps(r, kSample, step, seen)) << step << ": " << r.error();
    ASSERT_EQ(seen, kSampleSeen) << step;
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = rng() % 9; at < kSample.size(); at += rng() % 40) cuts.push_back(at);
    Reader r;
    std::vector<Seen> seen;
    ASSERT_TRUE(feed_cut(r, kSample, cuts, seen)) << r.error();
    ASSERT_EQ(seen, kSampleSeen) << round;
  }
}

TEST(NatsReader, WholeOperationsAreNotCopied) {
  const std::string stream = "MSG a 1 2\r\nhi\r\n-ERR 'x'\r\n";
  Reader r;
  std::vector<const char*> at;
  ASSERT_TRUE(r.feed(stream.data(), stream.size(), [&](const Message& m) {
    at.push_back(m.op == Op::Msg ? m.payload.data() : m.text.data());
    return true;
  }));
  ASSERT_EQ(at.size(), 2u);
  EXPECT_EQ(at[0], stream.data() + 11);
  EXPECT_EQ(at[1], stream.data() + 21);
}

TEST(NatsReader, LargePayloadAcrossManyReads) {
  std::string payload(200'000, '\0');
  std::mt19937 rng(3);
  for (char& c : payload) c = static_cast<char>(rng());
  const std::string stream = "HMSG big 9 r 12 " + std::to_string(12 + payload.size()) +
                             "\r\nNATS/1.0\r\n\r\n" + payload + "\r\nPING\r\n" +
                             "MSG small 1 3\r\nabc\r\n";
  for (std::size_t step : {1u, 1000u, 4096u, 65536u, 1u << 20}) {
    Reader r;
    std::vector<Seen> seen;
    ASSERT_TRUE(feed_steps(r, stream, step, seen)) << step << ": " << r.error();
    ASSERT_EQ(seen.size(), 3u) << step;
    EXPECT_EQ(seen[0].headers, "NATS/1.0\r\n\r\n");
    EXPECT_TRUE(seen[0].payload == payload) << step;
    EXPECT_EQ(seen[1].op, Op::Ping);
    EXPECT_EQ(seen[2].payload, "abc");
  }
}

TEST(NatsReader, MalformedStreamsAreRefused) {
  struct Case {
    std::string stream;
    std::string error;  // a part of the message
    std::size_t delivered = 0;
  };
  const std::vector<Case> cases = {
      {"FOO bar\r\n", "unknown operation \"FOO\""},
      {"PONGS\r\n", "unknown operation \"PONGS\""},
      {std::string("\0\x01\r\n", 4), "unknown operation \"\\x00\\x01\""},
      {"\r\n", "a control line without an operation"},
      {" PING\r\n", "a control line without an operation"},
      {"PING x\r\n", "PING followed by \"x\""},
      {"PING\r\r\n", "unknown operation \"PING\\x0D\""},
      {"+OK junk\r\n", "+OK followed by \"junk\""},
      {"INFO   \r\n", "INFO without its JSON"},
      {"MSG a 1\r\n", "a MSG line with 2 arguments, expected 3 or 4"},
      {"MSG a 1 r x 5\r\n", "a MSG line with 5 arguments, expected 3 or 4"},
      {"HMSG a 1 5\r\n", "a HMSG line with 3 arguments, expected 4 or 5"},
      {"HMSG a 1 r 2 3 4\r\n", "a HMSG line with 6 arguments"},
      {"MSG a 1 -1\r\n", "bad MSG size \"-1\""},
      {"MSG a 1 +5\r\nhello\r\n", "bad MSG size \"+5\""},
      {"MSG a 1 5x\r\n", "bad MSG size \"5x\""},
      {"MSG a 1 0x10\r\n", "bad MSG size \"0x10\""},
      {"MSG a 1 99999999999999999999999\r\n", "bad MSG size \"99999999999999999999999\""},
      {"HMSG a 1 x 5\r\n", "bad HMSG size \"x\""},
      {"MSG a 1 99999999\r\n", "MSG payload of 99999999 bytes exceeds the limit 1048576"},
      {"HMSG a 1 10 5\r\n", "HMSG header size 10 exceeds its total size 5"},
      {"MSG a 1 5\r\nhelloXY", "missing CRLF after a MSG payload"},
      {"MSG a 1 5\r\nhello\n\n", "missing CRLF after a MSG payload"},
      {"HMSG a 1 12 12\r\nNATS/1.0\r\n\r\n\nX", "missing CRLF after a HMSG payload"},
      {"MSG a 1 5\r\nhello\r\nPING\r\nBAR\r\n", "unknown operation \"BAR\"", 2},
  };
  for (const Case& c : cases) {
    for (std::size_t step : {c.stream.size(), std::size_t(1)}) {
      Reader r(1 << 20);
      std::vector<Seen> seen;
      EXPECT_FALSE(feed_steps(r, c.stream, step, seen)) << c.stream;
      EXPECT_NE(r.error().find(c.error), std::string::npos) << c.stream << " -> " << r.error();
      EXPECT_EQ(seen.size(), c.delivered) << c.stream;
      // The error sticks until reset().
      const std::string ping = "PING\r\n";
      auto count = [&](const Message&) { return true; };
      EXPECT_FALSE(r.feed(ping.data(), ping.size(), count));
      r.reset();
      EXPECT_TRUE(r.error().empty());
      EXPECT_TRUE(r.feed(ping.data(), ping.size(), count)) << r.error();
    }
  }
}

TEST(NatsReader, ControlLineIsBounded) {
  const std::size_t max = Reader::kMaxControlLine;
  // "-ERR '" + text + "'\r\n" of exactly the bound is taken, one byte more is not.
  const std::string longest = "-ERR '" + std::string(max - 9, 'x') + "'\r\n";
  ASSERT_EQ(longest.size(), max);
  for (std::size_t step : {max, std::size_t(1000), std::size_t(1)}) {
    Reader r;
    std::vector<Seen> seen;
    ASSERT_TRUE(feed_steps(r, longest, step, seen)) << r.error();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].text.size(), max - 9);

    Reader over;
    seen.clear();
    const std::string too_long = "-ERR '" + std::string(max - 8, 'x') + "'\r\n";
    EXPECT_FALSE(feed_steps(over, too_long, step, seen));
    EXPECT_EQ(over.error(), "control line longer than 65536 bytes");
    EXPECT_TRUE(seen.empty());
  }
  // A line without an end is refused as soon as it passes the bound, not when it ends.
  Reader r;
  const std::string endless(max, 'x');
  auto never = [](const Message&) { return false; };
  EXPECT_TRUE(r.feed(endless.data(), max - 1, never));
  EXPECT_FALSE(r.feed(endless.data(), 1, never));
  EXPECT_EQ(r.error(), "control line longer than 65536 bytes");
}

TEST(NatsReader, PayloadLimit) {
  Reader r(10);
  std::vector<Seen> seen;
  ASSERT_TRUE(feed_steps(r, "MSG a 1 10\r\n0123456789\r\nMSG a 1 0\r\n\r\n", 1, seen));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].payload, "0123456789");
  // Refused on its control line alone, before any of its payload arrives.
  EXPECT_FALSE(feed_steps(r, "MSG a 1 11\r\n", 1, seen));
  EXPECT_EQ(r.error(), "MSG payload of 11 bytes exceeds the limit 10");
  r.reset();
  // For HMSG, the limit bounds headers and payload together.
  EXPECT_TRUE(feed_steps(r, "HMSG a 1 4 10\r\nNATS012345\r\n", 0, seen)) << r.error();
  EXPECT_FALSE(feed_steps(r, "HMSG a 1 4 11\r\n", 0, seen));
  EXPECT_EQ(r.error(), "HMSG payload of 11 bytes exceeds the limit 10");
}

TEST(NatsReader, CallbackReturningFalseStops) {
  for (std::size_t cut : {std::size_t(0), std::size_t(3), std::size_t(80), kSample.size()}) {
    Reader r;
    int calls = 0;
    auto stop_second = [&](const Message&) { return ++calls < 2; };
    ASSERT_TRUE(r.feed(kSample.data(), cut, stop_second));
    ASSERT_TRUE(r.feed(kSample.data() + cut, kSample.size() - cut, stop_second));
    EXPECT_EQ(calls, 2) << cut;
  }
  // The callee may reset the reader (its connection is closing) before returning false, also
  // while the reader completes an operation from its own buffer.
  const std::string stream = "PING\r\nPING\r\nMSG a 1 5\r\nhel";
  for (std::size_t cut : {std::size_t(3), stream.size()}) {
    Reader r;
    int calls = 0;
    auto reset_and_stop = [&](const Message&) {
      ++calls;
      r.reset();
      return false;
    };
    EXPECT_TRUE(r.feed(stream.data(), cut, reset_and_stop));
    if (calls == 0) {
      EXPECT_TRUE(r.feed(stream.data() + cut, stream.size() - cut, reset_and_stop));
    }
    EXPECT_EQ(calls, 1);
    std::vector<Seen> seen;
    ASSERT_TRUE(feed_cut(r, "PONG\r\n", {}, seen)) << r.error();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].op, Op::Pong);
  }
}

// ---- INFO and header blocks ----

TEST(NatsInfo, RealServerLine) {
  const std::string line =
      "INFO {\"server_id\":\"NDXH6EGUDAKOHRDYZO3XKCWF7UXCL6JSYAS3PJD4QJUMLN7K4VBDQSB3\","
      "\"server_name\":\"x\",\"version\":\"2.9.10\",\"proto\":1,\"go\":\"go1.19.8\","
      "\"host\":\"127.0.0.1\",\"port\":4222,\"headers\":true,\"max_payload\":1048576,"
      "\"client_id\":5,\"client_ip\":\"127.0.0.1\"} \r\n";
  Reader r;
  std::string text;
  ASSERT_TRUE(r.feed(line.data(), line.size(), [&](const Message& m) {
    EXPECT_EQ(m.op, Op::Info);
    text = m.text;
    return true;
  })) << r.error();
  std::string why;
  const auto info = parse_info(text, why);
  ASSERT_TRUE(info) << why;
  EXPECT_EQ(info->server_id, "NDXH6EGUDAKOHRDYZO3XKCWF7UXCL6JSYAS3PJD4QJUMLN7K4VBDQSB3");
  EXPECT_EQ(info->version, "2.9.10");
  EXPECT_EQ(info->max_payload, 1048576);
  EXPECT_TRUE(info->headers);
  EXPECT_FALSE(info->auth_required);
  EXPECT_FALSE(info->tls_required);
  EXPECT_FALSE(info->tls_available);
  EXPECT_EQ(info->proto, 1);
}

TEST(NatsInfo, DefaultsAndOtherFields) {
  std::string why;
  auto info = parse_info("{}", why);
  ASSERT_TRUE(info) << why;
  EXPECT_EQ(info->max_payload, 1 << 20);
  EXPECT_FALSE(info->headers);
  EXPECT_EQ(info->proto, 0);
  info = parse_info(
      " {\"auth_required\":true,\"tls_required\":true,\"tls_available\":true,\"max_payload\":"
      "8388608,\"connect_urls\":[\"10.0.0.1:4222\"],\"nested\":{\"a\":[1,{}]},\"proto\":1} ",
      why);
  ASSERT_TRUE(info) << why;
  EXPECT_TRUE(info->auth_required);
  EXPECT_TRUE(info->tls_required);
  EXPECT_TRUE(info->tls_available);
  EXPECT_EQ(info->max_payload, 8388608);
  // Deep nesting in a field the sink ignores neither recurses nor fails.
  info = parse_info("{\"x\":" + std::string(30000, '[') + std::string(30000, ']') + "}", why);
  EXPECT_TRUE(info) << why;
}

TEST(NatsInfo, Refused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "INFO is not valid JSON"},
      {"{", "INFO is not valid JSON"},
      {"{} x", "INFO is not valid JSON"},
      {"{\"server_id\":\"\xFF\"}", "INFO is not valid JSON"},
      {"[1]", "INFO is not a JSON object"},
      {"\"x\"", "INFO is not a JSON object"},
      {"{\"server_id\":5}", "INFO field \"server_id\" is not a string"},
      {"{\"version\":null}", "INFO field \"version\" is not a string"},
      {"{\"headers\":1}", "INFO field \"headers\" is not true or false"},
      {"{\"tls_required\":\"true\"}", "INFO field \"tls_required\" is not true or false"},
      {"{\"max_payload\":\"1MB\"}", "INFO field \"max_payload\" is not an integer"},
      {"{\"max_payload\":1.5e6}", "INFO field \"max_payload\" is not an integer"},
      {"{\"max_payload\":0}", "INFO field \"max_payload\" is out of range: 0"},
      {"{\"max_payload\":-1}", "INFO field \"max_payload\" is out of range: -1"},
      {"{\"max_payload\":18446744073709551615}", "is out of range"},
      {"{\"proto\":4294967296}", "INFO field \"proto\" is out of range"},
  };
  for (const auto& [json, error] : cases) {
    std::string why;
    EXPECT_FALSE(parse_info(json, why)) << json;
    EXPECT_NE(why.find(error), std::string::npos) << json << " -> " << why;
  }
}

TEST(NatsHeaders, Status) {
  EXPECT_EQ(header_status("NATS/1.0 503\r\n\r\n"), 503);
  EXPECT_EQ(header_status("NATS/1.0 503 No Responders\r\n\r\n"), 503);
  EXPECT_EQ(header_status("NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n"), 408);
  EXPECT_EQ(header_status("NATS/1.0  100\tIdle Heartbeat\r\n\r\n"), 100);
  EXPECT_EQ(header_status("NATS/1.0 503"), 503);
  EXPECT_EQ(header_status("NATS/1.0\r\nA: b\r\n\r\n"), 0);
  EXPECT_EQ(header_status("NATS/1.0\r\nStatus: 503\r\n\r\n"), 0);
  EXPECT_EQ(header_status(""), 0);
  EXPECT_EQ(header_status("garbage"), 0);
  EXPECT_EQ(header_status("NATS/1.0 50\r\n"), 0);
  EXPECT_EQ(header_status("NATS/1.0 5034\r\n"), 0);
  EXPECT_EQ(header_status("NATS/1.0 5x3\r\n"), 0);
  EXPECT_EQ(header_status("NATS/1.0503\r\n"), 0);
  EXPECT_EQ(header_status("HTTP/1.1 503\r\n"), 0);
}

// Random and mutated input never crashes anything (run under the sanitizer build to mean much),
// and cut anywhere it gives what it gives whole: the same operations, then the same error.
TEST(NatsRobustness, RandomInput) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 20000; ++round) {
    std::string b;
    if (round % 2 == 0) {
      b.resize(rng() % 40);
      for (char& c : b) c = static_cast<char>(rng() % 4 == 0 ? "\r\n 0"[rng() % 4] : rng());
    } else {
      b = kSample.substr(0, rng() % (kSample.size() + 1));
      for (int i = 0; i < 3 && !b.empty(); ++i) b[rng() % b.size()] = static_cast<char>(rng());
    }
    std::string why;
    (void)parse_info(b, why);
    (void)header_status(b);
    (void)check_subject(b, rng() % 2 == 0);
    std::vector<std::size_t> cuts;
    for (std::size_t at = rng() % 30; at < b.size(); at += 1 + rng() % 30) cuts.push_back(at);
    Reader whole(64), split(64);
    std::vector<Seen> once, cut;
    const bool ok = feed_cut(whole, b, {}, once);
    EXPECT_EQ(feed_cut(split, b, cuts, cut), ok) << testing::PrintToString(b);
    EXPECT_EQ(cut, once) << testing::PrintToString(b);
    EXPECT_EQ(split.error(), whole.error());
  }
}

}  // namespace
}  // namespace lt::nats
