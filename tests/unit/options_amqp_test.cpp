// The AMQP sink's options: amqp:// URLs with a user and a virtual host, names and templates,
// the --declare choices, confirms and the credentials RabbitMQ users expect by default.
#include <gtest/gtest.h>

#include <string>

#include "cli/options.hpp"
#include "options_args.hpp"

namespace lt {
namespace {

using test::error_of;
using test::parse;

TEST(OptionsAmqp, UrlUserVhostAndDefaults) {
  Options o = parse({"--url", "amqp://rabbit"});
  EXPECT_EQ(o.sink, "amqp");
  EXPECT_EQ(o.port, 5672);
  EXPECT_EQ(o.amqp.vhost, "/");
  EXPECT_EQ(o.amqp.exchange, "");
  EXPECT_EQ(o.amqp.queue, "load-tester");
  EXPECT_EQ(o.amqp.key_template(), "load-tester");  // the default exchange routes by queue name
  EXPECT_TRUE(o.amqp.confirm);
  EXPECT_FALSE(o.amqp.declare);
  EXPECT_EQ(o.auth.username, "guest");  // RabbitMQ's URI default
  EXPECT_EQ(o.auth.password, "guest");
  o = parse({"--url", "amqps://al%40ice@rabbit:5999/prod%2Feu"});
  EXPECT_TRUE(o.tls.enabled);
  EXPECT_EQ(o.port, 5999);
  EXPECT_EQ(o.auth.username, "al@ice");
  EXPECT_EQ(o.auth.password, "");  // no guest password for another user
  EXPECT_EQ(o.amqp.vhost, "prod/eu");
  EXPECT_EQ(parse({"--url", "amqps://r/"}).port, 5671);
  EXPECT_EQ(parse({"--url", "amqp://r/"}).amqp.vhost, "/");
  EXPECT_EQ(parse({"--url", "amqp://r/%2F"}).amqp.vhost, "/");
  EXPECT_EQ(parse({"--sink", "amqp", "--vhost", "v"}).amqp.vhost, "v");
  o = parse({"--sink", "amqp", "--routing-key", "k.{device}", "--exchange", "amq.topic"});
  EXPECT_EQ(o.amqp.key_template(), "k.{device}");
  EXPECT_TRUE(parse({"--sink", "amqp", "--rate", "max"}).closed_loop);  // confirms pace it
  EXPECT_EQ(parse({"--sink", "amqp", "--consumers", "3", "--queue", "q{device}"}).subscribers, 3u);
  EXPECT_FALSE(parse({"--sink", "amqp", "--confirm", "off"}).amqp.confirm);
  EXPECT_EQ(parse({"--sink", "amqp", "--heartbeat", "0"}).amqp.heartbeat, 0);
}

TEST(OptionsAmqp, ErrorsNameTheirFlag) {
  EXPECT_EQ(error_of({"--exchange", "x"}), "--exchange: only with --sink amqp");
  EXPECT_EQ(error_of({"--sink", "mqtt", "--consumers", "1"}),
            "--consumers: only with --sink amqp or kafka");
  EXPECT_EQ(error_of({"--sink", "amqp", "--subscribers", "1"}),
            "--subscribers: --sink amqp has --consumers");
  EXPECT_EQ(error_of({"--sink", "nats", "--persistent"}),
            "--persistent: only with --sink mqtt or amqp");
  EXPECT_EQ(error_of({"--url", "amqp://u:pw@r/"}),
            "--url: a password in the URL is not accepted (use --password-file or $LT_PASSWORD), "
            "got \"amqp://u:****@r/\"");
  EXPECT_EQ(error_of({"--url", "mqtt://u@r"}).find("--url: user info in the URL is not accepted"),
            0u);
  EXPECT_EQ(error_of({"--url", "amqp://u@r/", "--username", "v"}),
            "--username: the URL already names the user: give it once");
  EXPECT_EQ(error_of({"--url", "amqp://r/a/b"})
                .find("--url: the path of an amqp:// URL is one "
                      "percent-encoded virtual host"),
            0u);
  EXPECT_EQ(error_of({"--url", "amqp://r/%zz"}).find("--url: the path of an amqp://"), 0u);
  EXPECT_EQ(error_of({"--url", "amqp://r/v", "--vhost", "w"}),
            "--vhost: the amqp:// URL already names the virtual host");
  EXPECT_EQ(error_of({"--sink", "amqp", "--exchange", std::string(256, 'x')}),
            "--exchange: expected at most 255 bytes, got \"" + std::string(256, 'x') + "\"");
  EXPECT_EQ(error_of({"--sink", "amqp", "--queue", "q\tx"}),
            "--queue: control characters are not accepted, got \"q\tx\"");
  EXPECT_EQ(error_of({"--sink", "amqp", "--queue", "{devices}"}),
            "--queue: unknown placeholder {devices} (accepted: {device}, {rank}), got "
            "\"{devices}\"");
  // {device} expands to the highest id: a name that fits for device 0 may not for device 999.
  EXPECT_EQ(error_of({"--sink", "amqp", "--devices", "1000", "--routing-key",
                      std::string(253, 'k') + "{device}"})
                .find("--routing-key: expected at most 255 bytes"),
            0u);
  EXPECT_EQ(error_of({"--sink", "amqp", "--exchange-type", "topic"}),
            "--exchange-type: only with --declare");
  EXPECT_EQ(error_of({"--sink", "amqp", "--declare", "--exchange-type", "x"}),
            "--exchange-type: unknown exchange type \"x\" (accepted: direct, fanout, topic, "
            "headers)");
  EXPECT_EQ(error_of({"--sink", "amqp", "--durable"}), "--durable: only with --declare");
  EXPECT_EQ(error_of({"--sink", "amqp", "--confirm", "yes"}),
            "--confirm: unknown --confirm value \"yes\" (accepted: on, off)");
  EXPECT_EQ(error_of({"--sink", "amqp", "--heartbeat", "1500ms"}),
            "--heartbeat: expected whole seconds from 0 to 65535 (e.g. 30s, 2m), got \"1500ms\"");
  EXPECT_EQ(error_of({"--sink", "amqp", "--confirm", "off", "--rate", "max"}).find("--rate max"),
            0u);
  EXPECT_EQ(error_of({"--sink", "amqp", "--echo"}),
            "--echo: not used by --sink amqp (confirms or --consumers measure)");
  EXPECT_EQ(error_of({"--sink", "amqp", "--consumers", "1"})
                .find("--consumers: a --queue without {device} needs --threads 1"),
            0u);
  EXPECT_EQ(error_of({"--sink", "amqp", "--consumers", "2", "--threads", "1"}), "");
  EXPECT_EQ(error_of({"--sink", "amqp", "--payload", "31"}),
            "--payload: sink amqp needs at least 32 bytes (its header), got 31");
}

}  // namespace
}  // namespace lt
