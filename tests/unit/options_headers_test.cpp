// -H and --header-file: credentials kept out of descriptions and result files.
#include <gtest/gtest.h>

#include <cstdio>

#include "cli/header_flags.hpp"
#include "options_args.hpp"

namespace lt {
namespace {

using test::error_of;
using test::parse;

std::string write_file(const std::string& name, const char* text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(text, f);
  std::fclose(f);
  return path;
}

TEST(OptionsHeaders, CredentialNames) {
  for (const char* name : {"Authorization", "proxy-authorization", "Cookie", "X-Api-Key",
                           "X-Auth-Token", "Private-Token", "X-Client-Secret", "apikey"})
    EXPECT_TRUE(secret_header(name)) << name;
  for (const char* name : {"Accept", "Content-Type", "X-Request-Id", "User-Agent", "Keep-Alive"})
    EXPECT_FALSE(secret_header(name)) << name;
}

TEST(OptionsHeaders, FileHeadersAreSentButNeverShown) {
  const std::string file =
      write_file("headers",
                 "# for the staging API\r\nAuthorization: Bearer s3cr3t\r\n\r\n"
                 "X-Tenant: blue\n");
  const Options o = parse({"--url", "http://h/", "-H", "Accept: */*", "--header-file", file});
  EXPECT_EQ(o.http.headers, (std::vector<std::string>{"Accept: */*", "Authorization: Bearer s3cr3t",
                                                      "X-Tenant: blue"}));
  EXPECT_EQ(o.http.shown_headers,
            (std::vector<std::string>{"Accept: */*", "Authorization: <redacted>",
                                      "X-Tenant: <redacted>"}));
  const std::string d = describe_options(o);
  EXPECT_EQ(d.find("s3cr3t"), std::string::npos) << d;
  EXPECT_EQ(d.find("blue"), std::string::npos) << d;
  EXPECT_NE(d.find("--header-file=" + file), std::string::npos) << d;

  const Options n = parse({"--sink", "nats", "--header-file", file});
  EXPECT_EQ(n.nats.headers.size(), 2u);
  EXPECT_EQ(describe_options(n).find("s3cr3t"), std::string::npos);
}

TEST(OptionsHeaders, CredentialsOnTheCommandLineAreRedactedToo) {
  const Options o = parse({"--url", "http://h/", "-H", "X-Api-Key: k3y", "-H", "Accept: a/b"});
  EXPECT_EQ(o.http.headers[0], "X-Api-Key: k3y");
  EXPECT_EQ(o.http.shown_headers,
            (std::vector<std::string>{"X-Api-Key: <redacted>", "Accept: a/b"}));
  EXPECT_EQ(describe_options(o).find("k3y"), std::string::npos);
}

TEST(OptionsHeaders, FileErrorsNameTheLineNotItsValue) {
  const std::string bad = write_file("bad-headers", "Accept: */*\nBearer s3cr3t\n");
  EXPECT_EQ(error_of({"--url", "http://h/", "--header-file", bad}),
            "--header-file: \"" + bad + "\" line 2: expected 'Name: value'");
  const std::string ctl = write_file("ctl-headers", "X-Token: a\x01z\n");
  EXPECT_EQ(error_of({"--url", "http://h/", "--header-file", ctl}),
            "--header-file: \"" + ctl + "\" line 1: control character in the value of \"X-Token\"");
  const std::string framing = write_file("framing-headers", "Content-Length: 5\n");
  EXPECT_EQ(error_of({"--url", "http://h/", "--header-file", framing}),
            "--header-file: \"" + framing +
                "\" line 1: \"Content-Length\" is set by the tool from the body");
  const std::string empty = write_file("empty-headers", "# nothing\n\n");
  EXPECT_EQ(error_of({"--url", "http://h/", "--header-file", empty}),
            "--header-file: \"" + empty + "\" holds no header");
  EXPECT_TRUE(error_of({"--url", "http://h/", "--header-file", "/nonexistent/h"})
                  .starts_with("--header-file: cannot read \"/nonexistent/h\""));
  EXPECT_EQ(error_of({"--header-file", empty}), "--header-file: only with --sink http or nats");
}

}  // namespace
}  // namespace lt
