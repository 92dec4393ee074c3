// The HTTP request parser on whole, pipelined, split and malformed requests.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "http/request_parser.hpp"
#include "http_feed.hpp"

namespace lt::http {
namespace {

using R = RequestParser::Result;

struct Parsed {
  R result = R::NeedMore;
  std::size_t consumed = 0;
  Request request;
  std::string error;
};

// Parses the requests in `text`, fed in pieces of at most `step` bytes (0 = all at once), until
// the input ends or a request fails; each Done request is returned with the bytes it consumed.
std::vector<Parsed> parse_all(const std::string& text, std::size_t step = 0) {
  RequestParser p;
  std::vector<Parsed> out;
  std::size_t at = 0, start = 0;
  while (at < text.size()) {
    const std::size_t n = step ? std::min(step, text.size() - at) : text.size() - at;
    std::size_t used = 0;
    while (used < n) {
      R r;
      used += p.feed(text.data() + at + used, n - used, r);
      if (r == R::NeedMore) continue;
      out.push_back({r, at + used - start, p.request(), p.error()});
      if (r == R::Error) return out;
      start = at + used;
      p.next();
    }
    at += n;
  }
  if (start < text.size()) out.push_back({R::NeedMore, text.size() - start, {}, {}});
  return out;
}

void expect_same(const std::vector<Parsed>& a, const std::vector<Parsed>& b,
                 const std::string& text) {
  ASSERT_EQ(a.size(), b.size()) << text;
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].result, b[k].result) << text;
    EXPECT_EQ(a[k].error, b[k].error) << text;
    EXPECT_EQ(a[k].request.method, b[k].request.method) << text;
    EXPECT_EQ(a[k].request.target, b[k].request.target) << text;
    EXPECT_EQ(a[k].request.body_bytes, b[k].request.body_bytes) << text;
    EXPECT_EQ(a[k].request.keep_alive, b[k].request.keep_alive) << text;
    if (a[k].result == R::Done) {
      EXPECT_EQ(a[k].consumed, b[k].consumed) << text;
    }
  }
}

// The first request of `text`; fed whole, it is also fed one byte at a time, and every request
// in it must come out the same both ways.
Parsed parse(const std::string& text, std::size_t step = 0) {
  auto all = parse_all(text, step);
  if (step == 0) expect_same(all, parse_all(text, 1), text);
  return all.empty() ? Parsed{} : all.front();
}

TEST(HttpRequest, SimpleGet) {
  const std::string text = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
  Parsed p = parse(text);
  ASSERT_EQ(p.result, R::Done) << p.error;
  EXPECT_EQ(p.consumed, text.size());
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.target, "/index.html");
  EXPECT_FALSE(p.request.http10);
  EXPECT_FALSE(p.request.head);
  EXPECT_TRUE(p.request.keep_alive);
  EXPECT_EQ(p.request.body_bytes, 0u);
  EXPECT_TRUE(parse("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").request.head);
  EXPECT_FALSE(parse("head / HTTP/1.1\r\nHost: a\r\n\r\n").request.head);  // case-sensitive
}

TEST(HttpRequest, PipelinedRequestsInOneChunk) {
  const std::string one = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string two = "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody";
  const std::string three = "HEAD /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  auto all = parse_all(one + two + three);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].consumed, one.size());
  EXPECT_EQ(all[1].consumed, two.size());
  EXPECT_EQ(all[2].consumed, three.size());
  EXPECT_EQ(all[0].request.target, "/1");
  EXPECT_EQ(all[1].request.body_bytes, 4u);
  EXPECT_TRUE(all[2].request.head);
  EXPECT_FALSE(all[2].request.keep_alive);
}

// Several requests back to back, fed one byte at a time (parse() does this for every test).
TEST(HttpRequest, ByteByByteEqualsAllAtOnce) {
  const std::string texts[] = {
      "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
      "PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n",
  };
  for (const std::string& text : texts) {
    auto whole = parse_all(text);
    EXPECT_EQ(whole.size(), 2u) << text;
    expect_same(whole, parse_all(text, 1), text);
  }
}

TEST(HttpRequest, ContentLengthBody) {
  const std::string text = "POST /p HTTP/1.1\r\nHost: a\r\ncontent-length:  5 \r\n\r\nhelloNEXT";
  for (std::size_t step : {0u, 1u, 3u}) {
    Parsed p = parse(text, step);
    ASSERT_EQ(p.result, R::Done) << step << p.error;
    EXPECT_EQ(p.consumed, text.size() - 4);  // "NEXT" is the next request's
    EXPECT_EQ(p.request.body_bytes, 5u);
  }
  // A list of equal values, or repeated equal headers, is one length.
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nab").result, R::Done);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab")
                .request.body_bytes,
            2u);
}

TEST(HttpRequest, ChunkedBodyWithExtensionsAndTrailers) {
  const std::string text =
      "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
      "4;name=value\r\nWiki\r\nA \r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
  for (std::size_t step : {0u, 1u, 2u, 5u}) {
    Parsed p = parse(text, step);
    ASSERT_EQ(p.result, R::Done) << step << p.error;
    EXPECT_EQ(p.consumed, text.size());
    EXPECT_EQ(p.request.body_bytes, 14u);
    EXPECT_TRUE(p.request.keep_alive);
  }
}

TEST(HttpRequest, Http10ClosesUnlessAskedToKeepAlive) {
  Parsed p = parse("GET / HTTP/1.0\r\n\r\n");  // no Host needed in HTTP/1.0
  ASSERT_EQ(p.result, R::Done) << p.error;
  EXPECT_TRUE(p.request.http10);
  EXPECT_FALSE(p.request.keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").request.keep_alive);
}

TEST(HttpRequest, ConnectionClose) {
  Parsed p = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, CLOSE\r\n\r\n");
  ASSERT_EQ(p.result, R::Done) << p.error;
  EXPECT_FALSE(p.request.keep_alive);
  EXPECT_TRUE(
      parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n").request.keep_alive);
}

TEST(HttpRequest, EmptyLinesBeforeARequestAndBareLineFeeds) {
  Parsed p = parse("\r\n\nGET / HTTP/1.1\nHost: a\n\n");
  ASSERT_EQ(p.result, R::Done) << p.error;
  EXPECT_EQ(p.request.method, "GET");
}

void expect_error(const std::string& text, const std::string& why) {
  Parsed p = parse(text);
  EXPECT_EQ(p.result, R::Error) << text;
  EXPECT_EQ(p.error, why) << text;
}

TEST(HttpRequest, BadRequestLine) {
  expect_error("GET /\r\n\r\n", "a request line that is not METHOD TARGET VERSION");
  expect_error("GET\r\n\r\n", "a request line that is not METHOD TARGET VERSION");
  expect_error("G(T / HTTP/1.1\r\n\r\n", "a method that is not a token");
  expect_error(" GET / HTTP/1.1\r\n\r\n", "a method that is not a token");
  expect_error("GET  / HTTP/1.1\r\n\r\n", "a request target with spaces or control characters");
  expect_error("GET /a b HTTP/1.1\r\n\r\n", "an HTTP version other than HTTP/1.0 or HTTP/1.1");
  expect_error("GET / HTTP/2.0\r\n\r\n", "an HTTP version other than HTTP/1.0 or HTTP/1.1");
  expect_error("GET / http/1.1\r\n\r\n", "an HTTP version other than HTTP/1.0 or HTTP/1.1");
  expect_error(std::string("GET /\0 HTTP/1.1\r\n\r\n", 18),
               "a request target with spaces or control characters");
  expect_error("GET / HTTP/1.1\rX\r\n\r\n", "a bare CR in a line");
}

TEST(HttpRequest, BadHeader) {
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n", "a header line without a name");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", "a header line without a name");
  expect_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n",
               "a header name with characters outside a token");
  expect_error(std::string("GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", 29),
               "a header name with characters outside a token");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n",
               "a header value with control characters");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n",
               "obsolete line folding in a header");
  expect_error("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
               "an HTTP/1.1 request without a Host header");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host header");
}

TEST(HttpRequest, ContentLengthMismatchAndInvalidValues) {
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
               "conflicting Content-Length headers");
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n",
               "conflicting Content-Length headers");
  for (const char* value : {"-1", "", "1x", "0x10", "+5", ",", "1 2", "9999999999999999999"})
    expect_error(std::string("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ") + value + "\r\n\r\n",
                 "invalid Content-Length");
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 67108865\r\n\r\n",
               "a request body larger than 64 MiB");
}

TEST(HttpRequest, TransferEncodingWithContentLengthIsRefused) {
  expect_error(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "both Transfer-Encoding and Content-Length");
  expect_error(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
      "both Transfer-Encoding and Content-Length");
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
               "a Transfer-Encoding that does not end in chunked");
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
               "a transfer coding after chunked");
  expect_error(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
      "\r\n\r\n",
      "a transfer coding after chunked");
  expect_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
               "Transfer-Encoding in an HTTP/1.0 request");
}

TEST(HttpRequest, BadChunks) {
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_error(head + "zz\r\n", "invalid chunk size");
  expect_error(head + " 1\r\nx\r\n", "invalid chunk size");
  expect_error(head + "1000000000000000\r\n", "invalid chunk size");
  expect_error(head + "1\r\nxy\r\n", "chunk data longer than its size");
  expect_error(head + "4000001\r\n", "a request body larger than 64 MiB");
  expect_error(head + "0\r\nBad trailer\r\n\r\n", "a header line without a name");
}

TEST(HttpRequest, OversizeHeadAndLine) {
  expect_error("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", "a line longer than 8 KiB");
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 100; ++i)
    many += "X-" + std::to_string(i) + ": " + std::string(700, 'v') + "\r\n";
  expect_error(many + "\r\n", "a request head longer than 64 KiB");
  // Endless empty lines before a request count towards the head too.
  expect_error(std::string(40000, '\n') + std::string(40000, '\n'),
               "a request head longer than 64 KiB");
}

TEST(HttpRequest, NothingIsConsumedAfterDoneOrErrorUntilNext) {
  RequestParser p;
  R r;
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::size_t first = p.feed(text.data(), text.size(), r);
  ASSERT_EQ(r, R::Done);
  EXPECT_EQ(p.feed(text.data() + first, text.size() - first, r), 0u);
  EXPECT_EQ(r, R::Done);
  p.next();
  EXPECT_EQ(p.feed(text.data() + first, text.size() - first, r), text.size() - first);
  EXPECT_EQ(r, R::Done);
  EXPECT_EQ(p.request().target, "/2");
}

TEST(HttpRequest, PipelinedRequestsSplitAnywhere) {
  const std::string all =
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n"
      "PUT /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
      "HEAD /4 HTTP/1.0\r\n\r\n";
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    RequestParser p;
    std::vector<std::string> targets;
    test::feed_in_random_pieces(p, all, 23, rng, [&] {
      targets.push_back(p.request().target);
      p.next();
    });
    EXPECT_EQ(targets, (std::vector<std::string>{"/1", "/2", "/3", "/4"}));
  }
}

// Random bytes, and random mutations of valid requests: never a crash, never a read outside the
// input, and every feed makes progress until Done or Error.
TEST(HttpRequest, ArbitraryInputIsSafe) {
  const std::string seed =
      "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;x\r\nWiki\r\n0\r\n\r\n";
  std::mt19937 rng(11);
  for (int round = 0; round < 3000; ++round) {
    std::string text = seed;
    if (round % 2) {
      text.assign(1 + rng() % 200, '\0');
      for (char& c : text) c = char(rng() % 256);
    } else {
      for (int k = 0; k < 4; ++k) text[rng() % text.size()] = char(rng() % 256);
    }
    RequestParser p;
    std::size_t at = 0;
    while (at < text.size()) {
      R r;
      const std::size_t used = p.feed(text.data() + at, text.size() - at, r);
      at += used;
      if (r == R::Error) break;
      if (r == R::Done)
        p.next();
      else
        ASSERT_EQ(at, text.size());
    }
  }
}

}  // namespace
}  // namespace lt::http
