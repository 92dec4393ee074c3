// The URL parser and the request the HTTP sink sends.
#include <gtest/gtest.h>

#include "http/request.hpp"
#include "http/url.hpp"

namespace lt::http {
namespace {

std::optional<Url> url(const std::string& text) {
  std::string why;
  return parse_url(text, why);
}

std::string why(const std::string& text) {
  std::string why;
  EXPECT_FALSE(parse_url(text, why)) << text;
  return why;
}

TEST(HttpUrl, Accepts) {
  auto u = url("HTTPS://Example.com:8443/a/b?c=d#frag");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "Example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/a/b?c=d");
  u = url("http://[fe80::1]:81");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "fe80::1");
  EXPECT_EQ(u->port, 81);
  EXPECT_EQ(u->target, "/");
  u = url("http://h?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->target, "/?x=1");
  EXPECT_EQ(u->port, 80);
}

TEST(HttpUrl, RefusesWithAReason) {
  EXPECT_EQ(
      why("127.0.0.1:80"),
      "expected scheme://host[:port]/path, e.g. http://127.0.0.1:8080/ or mqtt://broker:1883");
  EXPECT_EQ(why("http:///x"), "missing host");
  EXPECT_EQ(why("http://h:"), "port must be a number from 1 to 65535");
  EXPECT_EQ(why("http://h:0/"), "port must be a number from 1 to 65535");
  EXPECT_EQ(why("http://h:65536/"), "port must be a number from 1 to 65535");
  EXPECT_EQ(why("http://h:12a/"), "port must be a number from 1 to 65535");
  EXPECT_EQ(why("http://[::1/"), "unterminated IPv6 address");
  EXPECT_EQ(why("http://::1/"), "an IPv6 address needs brackets: http://[::1]:8080/");
  EXPECT_EQ(why("http://[::1]x/"), "unexpected text after the IPv6 address");
  EXPECT_NE(why("http://user:pw@h/").find("user info"), std::string::npos);
  EXPECT_NE(why("http://h/a b").find("visible ASCII"), std::string::npos);
}

TEST(HttpRequest, BuiltOnceWithHostAndLength) {
  Options o;
  o.hostname = "example.com";
  o.port = 80;
  o.http.target = "/x";
  EXPECT_EQ(build_request(o), "GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n");
  o.port = 8080;
  o.http.method = "POST";
  o.http.headers = {"Content-Type: text/plain"};
  o.http.body = "hello";
  EXPECT_EQ(build_request(o),
            "POST /x HTTP/1.1\r\nHost: example.com:8080\r\nContent-Type: text/plain\r\n"
            "Content-Length: 5\r\n\r\nhello");
  o.hostname = "::1";
  o.port = 443;
  o.tls.enabled = true;
  o.http.body.clear();
  o.http.headers.clear();
  EXPECT_EQ(build_request(o), "POST /x HTTP/1.1\r\nHost: [::1]\r\nContent-Length: 0\r\n\r\n");
  o.http.headers = {"host: other"};
  o.http.method = "GET";
  EXPECT_EQ(build_request(o), "GET /x HTTP/1.1\r\nhost: other\r\n\r\n");
}

}  // namespace
}  // namespace lt::http
