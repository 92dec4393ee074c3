// The NATS encoders, byte for byte against the protocol's text (hand-written), and the subject
// check.
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nats/codec.hpp"

namespace lt::nats {
namespace {

TEST(NatsEncode, ConnectWithoutCredentials) {
  ConnectParams p;
  p.name = "lt-1";
  std::string out;
  encode_connect(out, p);
  EXPECT_EQ(
      out,
      "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"name\":\"lt-1\","
      "\"lang\":\"c++\",\"version\":\"load-tester\",\"protocol\":1,\"headers\":true,"
      "\"no_responders\":true,\"echo\":true}\r\n");
}

TEST(NatsEncode, ConnectWithCredentialsAndFlags) {
  ConnectParams p;
  p.name = "a \"quoted\" name";
  p.user = "u\"s\\er";
  p.pass = std::string("p\nw\x01", 4);
  p.token = "t\xC3\xB6k";  // UTF-8 stays as it is
  p.tls_required = true;
  p.headers = false;
  p.no_responders = false;
  p.echo = false;
  std::string out = "PING\r\n";  // appends
  encode_connect(out, p);
  EXPECT_EQ(
      out,
      "PING\r\nCONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":true,"
      "\"name\":\"a \\\"quoted\\\" name\",\"lang\":\"c++\",\"version\":\"load-tester\","
      "\"protocol\":1,\"headers\":false,\"no_responders\":false,\"echo\":false,"
      "\"user\":\"u\\\"s\\\\er\",\"pass\":\"p\\nw\\u0001\",\"auth_token\":\"t\xC3\xB6k\"}\r\n");

  // What a server's JSON parser reads back is what was configured.
  const std::string json = out.substr(6 + 8, out.size() - 6 - 8 - 2);
  const auto j = nlohmann::json::parse(json);
  EXPECT_EQ(j["user"], p.user);
  EXPECT_EQ(j["pass"], p.pass);
  EXPECT_EQ(j["auth_token"], p.token);
  EXPECT_EQ(j["name"], p.name);
}

TEST(NatsEncode, ConnectLeavesOutEachEmptyCredential) {
  ConnectParams p;
  p.pass = "secret";
  std::string out;
  encode_connect(out, p);
  EXPECT_EQ(out.find("\"user\""), std::string::npos);
  EXPECT_EQ(out.find("\"auth_token\""), std::string::npos);
  EXPECT_NE(out.find(",\"pass\":\"secret\"}\r\n"), std::string::npos) << out;
}

TEST(NatsEncode, ConnectWithInvalidUtf8DoesNotThrow) {
  ConnectParams p;
  p.user = "a\xFF";
  std::string out;
  EXPECT_NO_THROW(encode_connect(out, p));
  EXPECT_NE(out.find("\"user\":\"a\xEF\xBF\xBD\"}\r\n"), std::string::npos) << out;
}

TEST(NatsEncode, PublishHeads) {
  EXPECT_EQ(publish_head("dev.1", "", "", 64), "PUB dev.1 64\r\n");
  EXPECT_EQ(publish_head("dev.1", "r.1", "", 0), "PUB dev.1 r.1 0\r\n");
  const std::string block = header_block({"A: b"});
  ASSERT_EQ(block.size(), 18u);
  EXPECT_EQ(publish_head("dev.1", "", block, 64), "HPUB dev.1 18 82\r\nNATS/1.0\r\nA: b\r\n\r\n");
  EXPECT_EQ(publish_head("dev.1", "r", block, 0), "HPUB dev.1 r 18 18\r\nNATS/1.0\r\nA: b\r\n\r\n");
  EXPECT_EQ(publish_head("s", "", "", 1234567890123), "PUB s 1234567890123\r\n");
}

TEST(NatsEncode, RequestHeads) {
  std::string out = "x";
  append_request_head(out, "svc", "_INBOX.abc.7.", 42, "", 5);
  EXPECT_EQ(out, "xPUB svc _INBOX.abc.7.42 5\r\n");
  out.clear();
  append_request_head(out, "svc", "_INBOX.", UINT64_MAX, "NATS/1.0\r\n\r\n", 3);
  EXPECT_EQ(out, "HPUB svc _INBOX.18446744073709551615 12 15\r\nNATS/1.0\r\n\r\n");

  // The same bytes as a head built with the whole reply subject, for tokens of every length.
  const std::string block = header_block({"K: v", "Trace: 1"});
  for (std::uint64_t token = 0; token < UINT64_MAX / 3; token = token * 3 + 1) {
    for (const std::string& hb : {std::string(), block}) {
      std::string head = "old";
      append_request_head(head, "a.b", "_INBOX.z.", token, hb, 100);
      EXPECT_EQ(head, "old" + publish_head("a.b", "_INBOX.z." + std::to_string(token), hb, 100));
    }
  }
}

TEST(NatsEncode, RequestHeadWritesInPlace) {
  // Into a buffer with room, the head is written without moving it.
  std::string out;
  out.reserve(4096);
  const char* data = out.data();
  for (std::uint64_t token = 0; token < 50; ++token) {
    append_request_head(out, "svc", "_INBOX.abc.", token, "", 64);
  }
  EXPECT_EQ(out.data(), data);
  EXPECT_EQ(out.substr(0, 26), "PUB svc _INBOX.abc.0 64\r\nP");
}

TEST(NatsEncode, HeaderBlocks) {
  EXPECT_EQ(header_block({}), "NATS/1.0\r\n\r\n");
  EXPECT_EQ(header_block({"A: b"}), "NATS/1.0\r\nA: b\r\n\r\n");
  EXPECT_EQ(header_block({"Content-Type: text/plain", "X-Id: 7"}),
            "NATS/1.0\r\nContent-Type: text/plain\r\nX-Id: 7\r\n\r\n");
  EXPECT_EQ(header_status(header_block({"A: b"})), 0);
}

TEST(NatsEncode, SubPingPong) {
  std::string out;
  encode_sub(out, "dev.*", "", 1);
  encode_sub(out, "svc", "workers", 18446744073709551615u);
  encode_ping(out);
  encode_pong(out);
  EXPECT_EQ(out,
            "SUB dev.* 1\r\nSUB svc workers 18446744073709551615\r\n"
            "PING\r\nPONG\r\n");
}

TEST(NatsSubject, Check) {
  struct Case {
    std::string subject;
    bool wildcards;
    std::string why;  // "" = fine
  };
  const std::string whitespace = "a subject cannot hold whitespace or control bytes";
  const std::string empty_token = "a subject cannot have an empty token";
  const std::string no_wildcards = "wildcards '*' and '>' are not allowed in a publish subject";
  const std::string whole = "wildcards '*' and '>' must be whole tokens";
  const std::string size = "expected 1 to 65535 bytes";
  const std::vector<Case> cases = {
      {"a", false, ""},
      {"devices.42.telemetry", false, ""},
      {"_INBOX.abc-DEF_9.7", false, ""},
      {"t\xC3\xB6k.\xE2\x82\xAC", false, ""},  // UTF-8 is fine
      {"$SYS.x", false, ""},
      {std::string(65535, 'a'), false, ""},
      {"", false, size},
      {std::string(65536, 'a'), false, size},
      {"a b", false, whitespace},
      {"a\tb", false, whitespace},
      {"a\r\n", false, whitespace},
      {std::string("a\0b", 3), false, whitespace},
      {"a\x7F", false, whitespace},
      {"a..b", false, empty_token},
      {".a", false, empty_token},
      {"a.", false, empty_token},
      {".", false, empty_token},
      {"a.*", false, no_wildcards},
      {"a.>", false, no_wildcards},
      {"a*b", false, no_wildcards},
      {"a.*", true, ""},
      {"*.b.>", true, ""},
      {">", true, ""},
      {"*", true, ""},
      {"a.>.b", true, "wildcard '>' must be the last token"},
      {"a.b*", true, whole},
      {"a.>>", true, whole},
      {"a.*>", true, whole},
      {"a..*", true, empty_token},
      {"a. b", true, whitespace},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(check_subject(c.subject, c.wildcards), c.why)
        << c.subject.substr(0, 40) << " wildcards=" << c.wildcards;
  }
}

}  // namespace
}  // namespace lt::nats
