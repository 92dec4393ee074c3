// The HTTP response parser on whole, split and malformed responses.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "http/response_parser.hpp"
#include "http_feed.hpp"

namespace lt::http {
namespace {

using R = ResponseParser::Result;

struct Parsed {
  R result;
  std::size_t consumed;
  Response response;
  std::string error;
};

// Feeds `text` in pieces of at most `step` bytes (0 = all at once) until the response ends.
Parsed parse(const std::string& text, bool head = false, std::size_t step = 0) {
  ResponseParser p;
  p.expect(head);
  std::size_t at = 0;
  R r = R::NeedMore;
  while (at < text.size() && r == R::NeedMore) {
    const std::size_t n = step ? std::min(step, text.size() - at) : text.size() - at;
    at += p.feed(text.data() + at, n, r);
  }
  return {r, at, p.response(), p.error()};
}

TEST(HttpResponse, ContentLength) {
  const std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhelloNEXT";
  for (std::size_t step : {0u, 1u, 2u, 7u}) {
    Parsed p = parse(text, false, step);
    ASSERT_EQ(p.result, R::Done) << step << p.error;
    EXPECT_EQ(p.consumed, text.size() - 4);  // "NEXT" is the next response's
    EXPECT_EQ(p.response.status, 200);
    EXPECT_EQ(p.response.body_bytes, 5u);
    EXPECT_TRUE(p.response.keep_alive);
  }
}

TEST(HttpResponse, ChunkedWithExtensionsAndTrailers) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
      "4;name=value\r\nWiki\r\nA \r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
  for (std::size_t step : {0u, 1u, 3u}) {
    Parsed p = parse(text, false, step);
    ASSERT_EQ(p.result, R::Done) << p.error;
    EXPECT_EQ(p.consumed, text.size());
    EXPECT_EQ(p.response.body_bytes, 14u);
    EXPECT_TRUE(p.response.keep_alive);
  }
}

TEST(HttpResponse, NoBodyForHeadAnd204And304) {
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true).result, R::Done);
  for (const char* status : {"204 No Content", "304 Not Modified"}) {
    Parsed p = parse(std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 7\r\n\r\n");
    EXPECT_EQ(p.result, R::Done) << status;
    EXPECT_EQ(p.response.body_bytes, 0u);
  }
}

TEST(HttpResponse, InterimResponsesAreSkipped) {
  Parsed p = parse(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(p.result, R::Done) << p.error;
  EXPECT_EQ(p.response.status, 201);
  EXPECT_EQ(p.response.interim, 2u);
  EXPECT_EQ(parse("HTTP/1.1 101 Switching Protocols\r\n\r\n").result, R::Error);
}

TEST(HttpResponse, BodyUntilCloseAndConnectionTokens) {
  ResponseParser p;
  p.expect(false);
  R r;
  const std::string text = "HTTP/1.1 200 OK\r\n\r\nabc";
  EXPECT_EQ(p.feed(text.data(), text.size(), r), text.size());
  EXPECT_EQ(r, R::NeedMore);
  EXPECT_EQ(p.close(), R::Done);
  EXPECT_EQ(p.response().body_bytes, 3u);
  EXPECT_FALSE(p.response().keep_alive);

  EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n")
                   .response.keep_alive);
  EXPECT_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").response.keep_alive);
  EXPECT_TRUE(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
                  .response.keep_alive);
  // Both framings: the chunked one wins and the connection is not reused.
  Parsed both = parse(
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
      "\r\n");
  EXPECT_EQ(both.result, R::Done);
  EXPECT_EQ(both.response.body_bytes, 1u);
  EXPECT_FALSE(both.response.keep_alive);
  // A coding other than a final chunked: the length is not the body's, the close ends it.
  Parsed coded =
      parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nabcd");
  EXPECT_EQ(coded.result, R::NeedMore);
  EXPECT_EQ(coded.response.body_bytes, 4u);
  EXPECT_FALSE(coded.response.keep_alive);
}

TEST(HttpResponse, CloseBeforeTheEndIsAnError) {
  ResponseParser p;
  p.expect(false);
  R r;
  const std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  p.feed(text.data(), text.size(), r);
  EXPECT_EQ(p.close(), R::Error);
  EXPECT_EQ(p.error(), "the connection closed before the response ended");
}

TEST(HttpResponse, MalformedInputIsAnErrorWithAReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"HTTP/2 200 OK\r\n\r\n", "not an HTTP/1.x status line"},
      {"HTTP/1.1 20 OK\r\n\r\n", "status code is not 3 digits"},
      {"HTTP/1.1 2000 OK\r\n\r\n", "status code is not 3 digits"},
      {"HTTP/1.1 099 Low\r\n\r\n", "status code below 100"},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       "conflicting Content-Length headers"},
      {"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", "a header line without a name"},
      {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "a header name with characters outside a token"},
      {"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", "obsolete line folding in a header"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
       "invalid chunk size"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n",
       "chunk data longer than its size"},
  };
  for (auto [text, why] : cases) {
    Parsed p = parse(text);
    EXPECT_EQ(p.result, R::Error) << text;
    EXPECT_EQ(p.error, why) << text;
  }
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nX: " + std::string(9000, 'a') + "\r\n\r\n").error,
            "a line longer than 8 KiB");
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 100; ++i)
    many += "X-" + std::to_string(i) + ": " + std::string(700, 'v') + "\r\n";
  EXPECT_EQ(parse(many + "\r\n").error, "a response head longer than 64 KiB");
}

TEST(HttpResponse, PipelinedResponsesSplitAnywhere) {
  // Three responses back to back, cut at random points: each must end exactly where it does.
  const std::string one = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  const std::string two =
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n";
  const std::string three = "HTTP/1.1 204 No Content\r\n\r\n";
  const std::string all = one + two + three;
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    ResponseParser p;
    p.expect(false);
    std::vector<int> statuses;
    test::feed_in_random_pieces(p, all, 17, rng, [&] {
      statuses.push_back(p.response().status);
      p.expect(false);
    });
    EXPECT_EQ(statuses, (std::vector<int>{200, 404, 204}));
  }
}

}  // namespace
}  // namespace lt::http
