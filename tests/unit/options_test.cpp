#include "cli/options.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "options_args.hpp"

namespace lt {
namespace {

using test::error_of;
using test::parse;
using test::split;

TEST(OptionsDefaults, MatchDocumentation) {
  const Options o = parse({});
  EXPECT_EQ(o.command, Command::Run);
  EXPECT_EQ(o.devices, 1u);
  EXPECT_EQ(o.msg.num, 2u);
  EXPECT_EQ(o.msg.den, 1u);
  EXPECT_FALSE(o.rate.has_value());
  EXPECT_EQ(o.payload, 64u);
  EXPECT_EQ(o.duration, 2 * kSecond);
  EXPECT_EQ(o.hostname, "127.0.0.1");
  EXPECT_EQ(o.port, 18000);
  EXPECT_EQ(o.sink, "tcp");
  EXPECT_EQ(o.update, kSecond);
  EXPECT_EQ(o.arrival, Arrival::Constant);
  EXPECT_FALSE(o.echo || o.noexec || o.verbose || o.quiet || o.precise);
  EXPECT_EQ(o.threads, 0u);
  EXPECT_EQ(o.backlog, 64u);
  EXPECT_EQ(o.inflight, 1024u);
  EXPECT_EQ(o.timeout, kSecond);
  EXPECT_EQ(o.connect_timeout, 2 * kSecond);
  EXPECT_EQ(parse({"run"}).devices, 1u);
}

TEST(OptionsFlags, EverySpellingOfALongFlag) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"-devices", "10"},
                                             {"-devices=10"},
                                             {"--devices", "10"},
                                             {"--devices=10"},
                                             {"run", "-devices", "10"},
                                             {"-devices", "1", "-devices", "10"} /* last wins */}) {
    EXPECT_EQ(parse(args).devices, 10u) << args[0];
  }
  const Options o = parse({"-msg", "0.5", "-echo", "-v", "-q", "-noexec", "-precise"});
  EXPECT_EQ(o.msg.num, 1u);
  EXPECT_EQ(o.msg.den, 2u);
  EXPECT_TRUE(o.echo && o.verbose && o.quiet && o.noexec && o.precise);
  EXPECT_TRUE(parse({"-verbose", "-quiet"}).verbose);
  EXPECT_FALSE(parse({"-echo=false"}).echo);
  EXPECT_TRUE(parse({"--echo=true"}).echo);
}

TEST(OptionsFlags, UnitsInEveryNumericFlag) {
  const Options o = parse({"-devices",
                           "10k",
                           "-msg",
                           "1.5k",
                           "-payload",
                           "1KiB",
                           "-duration",
                           "1h30m",
                           "-update",
                           "500ms",
                           "-threads",
                           "4",
                           "-backlog",
                           "1k",
                           "-inflight",
                           "2k",
                           "-timeout",
                           "250ms",
                           "-connect-timeout",
                           "1m",
                           "-seed",
                           "1M",
                           "-arrival",
                           "poisson",
                           "-sink",
                           "udp",
                           "-hostname",
                           "example.com",
                           "-port",
                           "9000",
                           "-json",
                           "out.json",
                           "-hdr-log",
                           "lat.hlog"});
  EXPECT_EQ(o.devices, 10000u);
  EXPECT_EQ(o.msg.num, 1500u);
  EXPECT_EQ(o.payload, 1024u);
  EXPECT_EQ(o.duration, 5400 * kSecond);
  EXPECT_EQ(o.update, 500 * kMilli);
  EXPECT_EQ(o.threads, 4u);
  EXPECT_EQ(o.backlog, 1000u);
  EXPECT_EQ(o.inflight, 2000u);
  EXPECT_EQ(o.timeout, 250 * kMilli);
  EXPECT_EQ(o.connect_timeout, 60 * kSecond);
  EXPECT_EQ(o.seed, 1000000u);
  EXPECT_EQ(o.arrival, Arrival::Poisson);
  EXPECT_EQ(o.sink, "udp");
  EXPECT_EQ(o.hostname, "example.com");
  EXPECT_EQ(o.port, 9000);
  EXPECT_EQ(o.json_path, "out.json");
  EXPECT_EQ(o.hdr_log_path, "lat.hlog");
  EXPECT_EQ(o.total_rate().num, 15000000u);
}

TEST(OptionsFlags, DurationZeroMeansUntilInterrupted) {
  EXPECT_EQ(parse({"-duration", "0"}).duration, 0);
  EXPECT_EQ(parse({"-duration", "8760h"}).duration, 8760 * 3600 * kSecond);
}

TEST(OptionsFlags, RateGivesExactPerDeviceShare) {
  const Options o = parse({"-rate", "1", "-devices", "3"});
  ASSERT_TRUE(o.rate.has_value());
  EXPECT_EQ(o.total_rate().num, 1u);
  EXPECT_EQ(o.total_rate().den, 1u);
  EXPECT_EQ(o.msg.num, 1u);
  EXPECT_EQ(o.msg.den, 3u);
  EXPECT_EQ(error_of({"--msg", "1", "--rate", "10"}), "--msg and --rate are exclusive: give one");
  EXPECT_EQ(error_of({"-rate=10", "-msg=1"}), "--msg and --rate are exclusive: give one");
}

TEST(OptionsFlags, HostnamesAndAddresses) {
  for (const char* h : {"127.0.0.1", "::1", "fe80::1", "localhost", "my-host.example.com.",
                        "a_b.local", "10.0.0.255"})
    EXPECT_EQ(parse({"-hostname", h}).hostname, h);
  for (const char* h : {"", "localhost:9000", "-bad", "bad-.com", "a..b", "http://x", "a b",
                        "[::1]", "ex\xC3\xA4mple.com", "host/path"})
    EXPECT_TRUE(error_of({"-hostname", h}).starts_with("--hostname: ")) << h;
}

TEST(OptionsErrors, EveryRangeErrorNamesItsFlag) {
  struct Case {
    const char* flag;
    const char* value;
  };
  const std::vector<Case> cases = {
      {"--devices", "0"},
      {"--devices", "10000001"},
      {"--devices", "abc"},
      {"--devices", "-5"},
      {"--devices", "1.5"},
      {"--msg", "0"},
      {"--msg", "10000001"},
      {"--msg", "-1"},
      {"--msg", "nan"},
      {"--rate", "0"},
      {"--rate", "x"},
      {"--payload", "0"},
      {"--payload", "16777217"},
      {"--payload", "17MiB"},
      {"--payload", "31"},
      {"--duration", "8761h"},
      {"--duration", "-1s"},
      {"--duration", "5x"},
      {"--hostname", "a:b"},
      {"--port", "0"},
      {"--port", "65536"},
      {"--port", "http"},
      {"--sink", "foo"},
      {"--update", "9ms"},
      {"--update", "61m"},
      {"--threads", "1025"},
      {"--arrival", "burst"},
      {"--seed", "-1"},
      {"--backlog", "1000001"},
      {"--inflight", "0"},
      {"--inflight", "1000001"},
      {"--timeout", "0"},
      {"--timeout", "1x"},
      {"--connect-timeout", "0s"},
      {"--json", ""},
      {"--hdr-log", ""},
  };
  for (const auto& c : cases) {
    const std::string joined = std::string(c.flag) + "=" + c.value;
    const std::string error = error_of({joined});
    EXPECT_TRUE(error.starts_with(std::string(c.flag) + ": ")) << joined << " -> " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    // Go-style spelling reports the same error.
    EXPECT_EQ(error_of({std::string(c.flag).substr(1), c.value}), error) << joined;
  }
}

TEST(OptionsErrors, MessagesStateTheAcceptedRange) {
  EXPECT_EQ(error_of({"-devices", "abc"}),
            "--devices: expected a whole number from 1 to 10000000, got \"abc\"");
  EXPECT_EQ(error_of({"--sink", "foo"}),
            "--sink: unknown sink \"foo\" (accepted: tcp, udp, http, mqtt, nats, amqp, kafka)");
  EXPECT_EQ(error_of({"--port", "0"}),
            "--port: expected a whole number from 1 to 65535, got \"0\"");
  EXPECT_NE(error_of({"--payload", "16"}).find("at least 32 bytes"), std::string::npos);
  EXPECT_NE(error_of({"--update", "5ms"}).find("from 10ms to 1h"), std::string::npos);
  EXPECT_NE(error_of({"--timeout", "0"}).find("greater than 0"), std::string::npos);
  EXPECT_EQ(error_of({"--payload", "32"}), "");
  EXPECT_EQ(error_of({"--devices"}), "--devices: missing value");
  EXPECT_EQ(error_of({"-devices="}),
            "--devices: expected a whole number from 1 to 10000000, got \"\"");
  EXPECT_EQ(error_of({"--echo=maybe"}), "--echo: expected true or false, got \"maybe\"");
}

TEST(OptionsErrors, PerDeviceAndTotalRateLimits) {
  EXPECT_TRUE(error_of({"--rate", "20M"}).starts_with("--rate: "));
  EXPECT_EQ(error_of({"--rate", "20M", "--devices", "2"}), "");
  EXPECT_TRUE(error_of({"--msg", "9999999.999999999", "--devices", "10M"}).starts_with("--msg: "));
}

TEST(OptionsErrors, UnknownOptionsAndArguments) {
  EXPECT_EQ(error_of({"--foo"}), "unknown option \"--foo\"");
  EXPECT_EQ(error_of({"-foo", "1"}), "unknown option \"--foo\"");
  EXPECT_EQ(error_of({"--foo=1"}), "unknown option \"--foo\"");
  EXPECT_EQ(error_of({"-x"}), "unknown option \"-x\"");
  EXPECT_EQ(error_of({"-5"}), "unknown option \"-5\"");
  EXPECT_EQ(error_of({"extra"}), "unexpected argument \"extra\"");
  EXPECT_EQ(error_of({"-v", "serve"}), "\"serve\" must be the first argument");
  EXPECT_EQ(error_of({"serve", "--devices", "5"}), "unknown option \"--devices\" for serve");
}

TEST(OptionsCommands, HelpAndVersionFillText) {
  for (const char* flag : {"-h", "--help", "-help"}) {
    std::string text;
    EXPECT_EQ(parse({flag}, &text).command, Command::Help);
    EXPECT_NE(text.find("--devices"), std::string::npos) << flag;
  }
  std::string text;
  EXPECT_EQ(parse({"serve", "--help"}, &text).command, Command::Help);
  EXPECT_NE(text.find("--bind"), std::string::npos);
  EXPECT_EQ(text.find("--devices"), std::string::npos);
  EXPECT_EQ(parse({"-version"}, &text).command, Command::Version);
  EXPECT_NE(text.find(LT_VERSION), std::string::npos);
  EXPECT_EQ(parse({"--version"}).command, Command::Version);  // text is optional
  EXPECT_EQ(parse({"--devices", "bad", "--help"}).command, Command::Help);
}

TEST(OptionsServe, ParsesItsOwnFlags) {
  Options o = parse({"serve"});
  EXPECT_EQ(o.command, Command::Serve);
  EXPECT_EQ(o.sink, "tcp");
  EXPECT_EQ(o.port, 18000);
  EXPECT_FALSE(o.port_given);
  EXPECT_EQ(o.bind, "127.0.0.1");
  o = parse({"serve", "-sink", "udp", "-echo", "-port", "0", "-bind=0.0.0.0", "-json", "s.json",
             "-v", "-q"});
  EXPECT_EQ(o.sink, "udp");
  EXPECT_TRUE(o.echo && o.verbose && o.quiet && o.port_given);
  EXPECT_EQ(o.port, 0);
  EXPECT_EQ(o.bind, "0.0.0.0");
  EXPECT_EQ(o.json_path, "s.json");
  EXPECT_EQ(error_of({"serve", "--port", "65536"}),
            "--port: expected a whole number from 0 to 65535, got \"65536\"");
  EXPECT_TRUE(error_of({"serve", "--sink", "kafka"}).starts_with("--sink: unknown sink"));
  EXPECT_TRUE(error_of({"serve", "--bind", "a b"}).starts_with("--bind: "));
}

TEST(Options, ConnectRateAndSourceAddresses) {
  Options o = parse({"--connect-rate", "5k", "--source-ip", "127.0.0.1-127.0.0.3"});
  ASSERT_TRUE(o.connect_rate.has_value());
  EXPECT_EQ(o.connect_rate->per_second(), 5000);
  EXPECT_EQ(o.source_ips, (std::vector<std::string>{"127.0.0.1", "127.0.0.2", "127.0.0.3"}));
  EXPECT_EQ(parse({"--source-ip", "10.0.0.1,::1"}).source_ips,
            (std::vector<std::string>{"10.0.0.1", "::1"}));
  EXPECT_EQ(parse({"--source-ip", "127.0.0.255-127.0.1.0"}).source_ips.size(), 2u);
  for (const char* bad :
       {"", "1.2.3", "127.0.0.3-127.0.0.1", "10.0.0.0-10.1.0.0", "a,b", "127.0.0.1,", "::1-::2"})
    EXPECT_TRUE(error_of({"--source-ip", bad}).starts_with("--source-ip: expected IP addresses"))
        << bad;
  EXPECT_TRUE(error_of({"--connect-rate", "0"}).starts_with("--connect-rate: expected a rate"));
}

TEST(OptionsServe, FaultInjection) {
  Options o = parse({"serve", "--echo", "--delay", "2ms"});
  EXPECT_EQ(o.faults.delay_min, 2 * kMilli);
  EXPECT_EQ(o.faults.delay_max, 2 * kMilli);
  o = parse({"serve", "--echo", "--delay", "1ms..3ms", "--stall", "1s", "--stall-every", "10s"});
  EXPECT_EQ(o.faults.delay_min, kMilli);
  EXPECT_EQ(o.faults.delay_max, 3 * kMilli);
  EXPECT_EQ(o.faults.stall, kSecond);
  EXPECT_EQ(o.faults.stall_every, 10 * kSecond);
  EXPECT_DOUBLE_EQ(parse({"serve", "--sink", "udp", "--echo", "--drop", "1%"}).faults.drop, 0.01);
  EXPECT_DOUBLE_EQ(parse({"serve", "--sink", "udp", "--echo", "--drop", "0.5"}).faults.drop, 0.5);
  EXPECT_EQ(error_of({"serve", "--delay", "2ms"}),
            "--delay: only with --echo or --sink http (it delays replies)");
  EXPECT_EQ(error_of({"serve", "--echo", "--delay", "3ms..1ms"}),
            "--delay: expected a duration up to 1h or a range MIN..MAX (e.g. 2ms, 1ms..3ms), got "
            "\"3ms..1ms\"");
  EXPECT_EQ(error_of({"serve", "--stall", "1s"}),
            "--stall and --stall-every go together: give both");
  EXPECT_EQ(error_of({"serve", "--stall", "1s", "--stall-every", "1s"}),
            "--stall: must be shorter than --stall-every (1s), got \"1s\"");
  EXPECT_EQ(error_of({"serve", "--sink", "udp", "--echo", "--drop", "1.5"}),
            "--drop: expected a fraction from 0 to 1 (e.g. 0.01, 1%), got \"1.5\"");
  EXPECT_EQ(error_of({"serve", "--echo", "--drop", "0.1"}),
            "--drop: only with --sink udp (a tcp stream cannot lose a message)");
  EXPECT_EQ(error_of({"serve", "--sink", "udp", "--drop", "0.1"}),
            "--drop: only with --echo (it drops replies)");
}

TEST(OptionsDescribe, SingleLineThatParsesBack) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"-devices", "3", "-rate", "1", "-echo", "-json", "r.json", "-duration", "90m"},
           {"-msg", "0.1", "-payload", "1KiB", "-update", "250ms", "-arrival", "poisson",
            "-precise", "-timeout", "1500us", "-hostname", "::1", "-sink", "udp", "-v"},
           {"-noexec", "-q", "-hdr-log", "h.log", "-threads", "2", "-seed", "7", "-backlog", "0",
            "-inflight", "5", "-connect-timeout", "3s", "-duration", "0"},
           {"-connect-rate", "2.5k", "-source-ip", "127.0.0.1-127.0.0.2"},
           {"-url", "https://example.com:8443/a?b=1", "-method", "POST", "-body", "x", "-H",
            "X-A:1", "-pipeline", "3", "-insecure", "-rate", "max", "-devices", "4"},
           {"-sink", "http", "-hostname", "::1", "-port", "80", "-path", "/x", "-method", "HEAD"},
           {"-url", "http://h/?a=1&b=2", "-H", "X-Quote: it's", "-body", "a b"},
           {"-url", "mqtts://b:8883", "-qos", "1", "-topic", "t/{device}/x y", "-retain",
            "-persistent", "-keepalive", "30s", "-username", "u", "-subscribers", "3",
            "-mqtt-version", "5", "-devices", "9", "-insecure"},
           {"-url", "tls://n:4333", "-nats-mode", "e2e", "-subscribers", "2", "-subject",
            "s.{device}", "-H", "A: b c", "-ping-interval", "250ms", "-devices", "4", "-insecure"},
           {"-sink", "nats", "-nats-mode", "request", "-responders", "3", "-username", "u"},
           {"-url", "amqps://bob@r:5999/v%2Fx", "-exchange", "ex", "-routing-key", "k.{device}",
            "-queue", "q {device}", "-declare", "-exchange-type", "topic", "-durable",
            "-auto-delete", "-persistent", "-mandatory", "-confirm", "off", "-heartbeat", "0",
            "-consumers", "2", "-devices", "4", "-insecure"},
           {"-sink", "amqp", "-rate", "max"},
           {"serve", "-port", "0", "-echo", "-q", "-json", "s.json"},
           {"serve", "-sink", "udp", "-echo", "-delay", "1ms..2500us", "-stall", "1s",
            "-stall-every", "10s", "-drop", "0.25", "-seed", "3"}}) {
    const std::string line = describe_options(parse(args));
    EXPECT_EQ(line.find('\n'), std::string::npos);
    try {
      EXPECT_EQ(describe_options(parse(split(line))), line) << line;
    } catch (const UsageError& e) {
      ADD_FAILURE() << e.message << " parsing back: " << line;
    }
  }
  EXPECT_NE(describe_options(parse({"-msg", "0.1"})).find("--msg=0.1 "), std::string::npos);
  EXPECT_NE(describe_options(parse({"-duration", "90m"})).find("--duration=90m "),
            std::string::npos);
}

TEST(OptionsHttp, UrlSetsSinkHostPortAndTls) {
  Options o = parse({"--url", "https://[::1]/p?q=1", "-H", "Accept: */*", "--body", "hi"});
  EXPECT_EQ(o.sink, "http");
  EXPECT_EQ(o.hostname, "::1");
  EXPECT_EQ(o.port, 443);
  EXPECT_TRUE(o.tls.enabled);
  EXPECT_FALSE(o.tls.insecure);
  EXPECT_EQ(o.http.target, "/p?q=1");
  ASSERT_EQ(o.http.headers.size(), 1u);
  EXPECT_EQ(o.payload, 2u);  // the body's size stands where other sinks show the payload
  EXPECT_EQ(parse({"--url", "http://h.example/"}).port, 80);
  EXPECT_FALSE(parse({"--url", "http://h.example:8080"}).tls.enabled);
}

TEST(OptionsHttp, ClosedLoopOnlyWithReplies) {
  EXPECT_TRUE(parse({"--url", "http://h/", "--rate", "max"}).closed_loop);
  EXPECT_TRUE(parse({"--echo", "--rate", "max"}).closed_loop);
  EXPECT_EQ(
      error_of({"--rate", "max"}),
      "--rate max: needs replies to pace it: use --sink http, --echo, mqtt with --qos 1 or 2, "
      "nats with --nats-mode request, amqp with confirms, or kafka");
  EXPECT_NE(error_of({"--url", "http://h/", "--rate", "max", "--arrival", "poisson"}), "");
}

TEST(OptionsHttp, ErrorsNameTheirFlag) {
  EXPECT_EQ(error_of({"--url", "gopher://h/"}),
            "--url: unsupported scheme \"gopher\" (accepted: http, https, mqtt, mqtts, nats, tls, "
            "amqp, amqps), got \"gopher://h/\"");
  EXPECT_EQ(error_of({"--method", "GET"}), "--method: only with --sink http");
  EXPECT_EQ(error_of({"--insecure"}),
            "--insecure: only with a sink that speaks TLS (http, mqtt, nats, amqp, kafka)");
  EXPECT_EQ(
      error_of({"--url", "http://h/", "--insecure"}),
      "--ca-file and --insecure need TLS: use an https://, mqtts://, tls:// or amqps:// URL, or "
      "--tls");
  EXPECT_EQ(error_of({"--url", "http://h/", "--method", "HEAD", "--body", "x"}),
            "--body: a HEAD request has no body");
  EXPECT_EQ(error_of({"--url", "http://h/", "-H", "X: a\r\nY: b"}),
            "--header: control character in the value of \"X\"");
  EXPECT_EQ(error_of({"--url", "http://h/", "--body", "a", "--body-file", "f"}),
            "--body and --body-file are exclusive: give one");
}

}  // namespace
}  // namespace lt
