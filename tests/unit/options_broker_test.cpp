// The message-broker sinks' options (mqtt, nats) and their shared credentials.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "options_args.hpp"

namespace lt {
namespace {

using test::error_of;
using test::parse;

TEST(OptionsMqtt, UrlAndDefaults) {
  Options o = parse({"--url", "mqtt://broker.example"});
  EXPECT_EQ(o.sink, "mqtt");
  EXPECT_EQ(o.port, 1883);
  EXPECT_EQ(o.mqtt.qos, 0);
  EXPECT_EQ(o.mqtt.version, 4);
  EXPECT_EQ(o.mqtt.topic, "load-tester/{device}");
  o = parse({"--url", "mqtts://broker.example", "--qos", "1", "--mqtt-version", "5"});
  EXPECT_EQ(o.port, 8883);
  EXPECT_TRUE(o.tls.enabled);
  EXPECT_EQ(o.mqtt.version, 5);
  EXPECT_TRUE(parse({"--sink", "mqtt", "--qos", "1", "--rate", "max"}).closed_loop);
}

TEST(OptionsMqtt, ErrorsNameTheirFlag) {
  EXPECT_EQ(error_of({"--qos", "1"}), "--qos: only with --sink mqtt");
  EXPECT_EQ(error_of({"--sink", "mqtt", "--qos", "3"}),
            "--qos: expected a whole number from 0 to 2, got \"3\"");
  EXPECT_EQ(error_of({"--sink", "mqtt", "--topic", "a/+/b"}),
            "--topic: a publish topic cannot hold '+', '#' or NUL, got \"a/+/b\"");
  EXPECT_EQ(error_of({"--sink", "mqtt", "--topic", "a/{dev}"}),
            "--topic: unknown placeholder {dev} (accepted: {device}, {rank}), got \"a/{dev}\"");
  EXPECT_NE(error_of({"--sink", "mqtt", "--devices", "2", "--client-id", "fixed"})
                .find("--client-id: needs {device}"),
            std::string::npos);
  EXPECT_NE(error_of({"--sink", "mqtt", "--subscribers", "2", "--topic", "all"})
                .find("--subscribers: more than one needs {device}"),
            std::string::npos);
  EXPECT_EQ(error_of({"--sink", "mqtt", "--payload", "16"}),
            "--payload: sink mqtt needs at least 32 bytes (its header), got 16");
  EXPECT_EQ(
      error_of({"--sink", "mqtt", "--rate", "max"}),
      "--rate max: needs replies to pace it: use --sink http, --echo, mqtt with --qos 1 or 2, "
      "nats with --nats-mode request, amqp with confirms, or kafka");
  EXPECT_EQ(error_of({"--url", "mqtt://b/x"}),
            "--url: a mqtt:// URL has no path, got \"mqtt://b/x\"");
  EXPECT_EQ(error_of({"--sink", "mqtt", "--qos", "2", "--persistent"}),
            "--persistent: not with --qos 2 (unfinished QoS 2 flows are not resumed)");
  EXPECT_NE(error_of({"--sink", "mqtt", "--topic", "all", "--subscribers", "1"})
                .find("needs --threads 1"),
            std::string::npos);
  EXPECT_EQ(error_of({"--sink", "mqtt", "--topic", "all", "--subscribers", "1", "--threads", "1"}),
            "");
  EXPECT_EQ(parse({"--sink", "mqtt"}).inflight, 20u);
  EXPECT_EQ(parse({"--sink", "mqtt", "--inflight", "500"}).inflight, 500u);
  EXPECT_EQ(error_of({"--sink", "mqtt", "--keepalive", "1500ms"}),
            "--keepalive: expected whole seconds from 0 to 65535 (e.g. 30s, 2m), got \"1500ms\"");
}

TEST(OptionsMqtt, PasswordNeverInTheDescription) {
  const std::string file = ::testing::TempDir() + "/pw";
  FILE* f = std::fopen(file.c_str(), "w");
  std::fputs("s3cret\n", f);
  std::fclose(f);
  const Options o = parse({"--sink", "mqtt", "--username", "u", "--password-file", file});
  EXPECT_EQ(o.auth.password, "s3cret");  // the file's newline is not part of it
  EXPECT_EQ(describe_options(o).find("s3cret"), std::string::npos);
}

TEST(OptionsNats, UrlModesAndDefaults) {
  Options o = parse({"--url", "nats://n:4333"});
  EXPECT_EQ(o.sink, "nats");
  EXPECT_EQ(o.hostname, "n");
  EXPECT_EQ(o.port, 4333);
  EXPECT_FALSE(o.tls.enabled);
  EXPECT_EQ(o.nats.mode, NatsMode::Pub);
  EXPECT_EQ(o.nats.subject, "load-tester.{device}");
  EXPECT_EQ(o.subscribers, 0u);
  o = parse({"--url", "tls://n"});
  EXPECT_TRUE(o.tls.enabled);
  EXPECT_EQ(o.port, 4222);
  o = parse({"--sink", "nats", "--nats-mode", "e2e"});
  EXPECT_EQ(o.subscribers, 1u);  // e2e needs someone to receive
  o = parse({"--sink", "nats", "--nats-mode", "request", "--responders", "3", "--rate", "max"});
  EXPECT_EQ(o.nats.responders, 3u);
  EXPECT_TRUE(o.closed_loop);
  o = parse({"--sink", "nats", "-H", "A: b", "--header", "C: d"});
  EXPECT_EQ(o.nats.headers, (std::vector<std::string>{"A: b", "C: d"}));
  EXPECT_EQ(o.http.headers.size(), 0u);
}

TEST(OptionsNats, ErrorsNameTheirFlag) {
  EXPECT_EQ(error_of({"--subject", "a"}), "--subject: only with --sink nats");
  EXPECT_EQ(error_of({"--sink", "nats", "--nats-mode", "sub"}),
            "--nats-mode: unknown mode \"sub\" (accepted: pub, request, e2e)");
  EXPECT_TRUE(error_of({"--sink", "nats", "--subject", "a.*"}).starts_with("--subject: wildcards"));
  EXPECT_TRUE(error_of({"--sink", "nats", "--subject", "a..b"}).starts_with("--subject: "));
  EXPECT_TRUE(error_of({"--sink", "nats", "--subject", "a b"}).starts_with("--subject: "));
  EXPECT_EQ(error_of({"--sink", "nats", "--responders", "2"}),
            "--responders: only with --nats-mode request");
  EXPECT_EQ(error_of({"--sink", "nats", "--subscribers", "2"}),
            "--subscribers: with --sink nats only in --nats-mode e2e");
  EXPECT_NE(
      error_of({"--sink", "nats", "--nats-mode", "e2e", "--subscribers", "2", "--subject", "all"})
          .find("more than one needs {device}"),
      std::string::npos);
  EXPECT_EQ(
      error_of({"--sink", "nats", "--rate", "max"}),
      "--rate max: needs replies to pace it: use --sink http, --echo, mqtt with --qos 1 or 2, "
      "nats with --nats-mode request, amqp with confirms, or kafka");
  EXPECT_EQ(error_of({"--sink", "nats", "--ping-interval", "1ms"}),
            "--ping-interval: expected a duration from 10ms to 1h (e.g. 500ms, 2m), got \"1ms\"");
  EXPECT_EQ(error_of({"--sink", "nats", "-H", "bad"}),
            "--header: expected 'Name: value', got \"bad\"");
  EXPECT_EQ(error_of({"--sink", "nats", "--echo"}),
            "--echo: not used by --sink nats (use --nats-mode request or e2e)");
  EXPECT_EQ(error_of({"--token-file", "x"}), "--token-file: only with --sink nats");
  EXPECT_EQ(error_of({"--sink", "tcp", "--username", "u"}),
            "--username: only with --sink mqtt, nats, amqp or kafka");
  EXPECT_EQ(error_of({"--url", "nats://h/x"}),
            "--url: a nats:// URL has no path, got \"nats://h/x\"");
}

TEST(OptionsNats, SecretsFromFilesNeverInTheDescription) {
  const std::string file = ::testing::TempDir() + "/token";
  FILE* f = std::fopen(file.c_str(), "w");
  std::fputs("t0ken\r\n", f);
  std::fclose(f);
  const Options o = parse({"--sink", "nats", "--token-file", file, "--nats-mode", "request"});
  EXPECT_EQ(o.auth.token, "t0ken");
  const std::string d = describe_options(o);
  EXPECT_EQ(d.find("t0ken"), std::string::npos);
  EXPECT_NE(d.find("--token-file="), std::string::npos);
  EXPECT_NE(d.find("--nats-mode=request"), std::string::npos);
  EXPECT_TRUE(error_of({"--sink", "nats", "--token-file", file, "--username", "u"})
                  .starts_with("--token-file: a token and --username"));
  EXPECT_TRUE(error_of({"--sink", "nats", "--token-file", "/nonexistent/t"})
                  .starts_with("--token-file: cannot read \"/nonexistent/t\""));
}

}  // namespace
}  // namespace lt
