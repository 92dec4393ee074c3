// The Kafka sink's options: brokers, topic and key templates, acks, producers, and -X properties
// checked by librdkafka itself before anything starts; secrets refused on the command line.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cli/options.hpp"
#include "options_args.hpp"

namespace lt {
namespace {

using test::error_of;
using test::parse;

TEST(OptionsKafka, DefaultsAndValues) {
  Options o = parse({"--sink", "kafka"});
  EXPECT_EQ(o.kafka.brokers, "127.0.0.1:9092");
  EXPECT_EQ(o.kafka.topic, "load-tester");
  EXPECT_EQ(o.kafka.key, "{device}");
  EXPECT_EQ(o.kafka.acks, "all");
  EXPECT_EQ(o.kafka.producers, 0u);
  o = parse({"--sink", "kafka", "--brokers", "k1:9092,[::1]:9093,10.0.0.1:1", "--topic",
             "t.{rank}-{device}", "--key", "", "--acks", "-1", "--producers", "4", "-X",
             "compression.type=lz4", "-X", "linger.ms=20", "--consumers", "3"});
  EXPECT_EQ(o.kafka.brokers, "k1:9092,[::1]:9093,10.0.0.1:1");
  EXPECT_EQ(o.kafka.key, "");
  EXPECT_EQ(o.kafka.acks, "all");
  EXPECT_EQ(o.kafka.producers, 4u);
  ASSERT_EQ(o.kafka.properties.size(), 2u);
  EXPECT_EQ(o.kafka.properties[1].first, "linger.ms");
  EXPECT_EQ(o.kafka.properties[1].second, "20");
  EXPECT_EQ(o.subscribers, 3u);
  EXPECT_TRUE(parse({"--sink", "kafka", "--rate", "max"}).closed_loop);  // delivery reports pace it
  // A value with '=' in it keeps everything after the first.
  EXPECT_EQ(parse({"--sink", "kafka", "-X", "client.rack=a=b"}).kafka.properties[0].second, "a=b");
}

TEST(OptionsKafka, DescribeParsesBack) {
  const Options o = parse({"--sink", "kafka", "--brokers", "a:1,b:2", "--topic", "x{device}",
                           "--key", "", "--acks", "0", "--producers", "2", "-X",
                           "compression.type=zstd", "-X", "linger.ms=5"});
  const std::string d = describe_options(o);
  EXPECT_NE(d.find("--brokers=a:1,b:2"), std::string::npos) << d;
  EXPECT_EQ(d.find("--hostname"), std::string::npos) << d;  // it would be refused back
  // "-Xlinger.ms=5" would read back as the unknown long option --Xlinger.ms (Go-style flags).
  EXPECT_NE(d.find(" -X compression.type=zstd -X linger.ms=5"), std::string::npos) << d;
  std::vector<std::string> words = test::split(d);
  words.erase(words.begin());  // "run"
  EXPECT_EQ(describe_options(parse(words)), d);
}

TEST(OptionsKafka, ConfigFileHoldsSecretsAndIsNeverShown) {
  const std::string path = testing::TempDir() + "kafka.properties";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("# for the tests\n\nssl.keystore.password = hunter2 \r\nlinger.ms=7\n", f);
    std::fclose(f);
  }
  const Options o = parse({"--sink", "kafka", "--kafka-config", path, "-X", "linger.ms=1"});
  ASSERT_EQ(o.kafka.file_properties.size(), 2u);
  EXPECT_EQ(o.kafka.file_properties[0].first, "ssl.keystore.password");
  EXPECT_EQ(o.kafka.file_properties[0].second, "hunter2");
  EXPECT_EQ(describe_options(o).find("hunter2"), std::string::npos);
  EXPECT_NE(describe_options(o).find("--kafka-config=" + path), std::string::npos);
  for (const char* bad : {"nope=1\n", "linger.ms=soon\n", "just words\n", "acks=0\n",
                          "sasl.kerberos.kinit.cmd=rm -rf /\n"}) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(bad, f);
    std::fclose(f);
    const std::string e = error_of({"--sink", "kafka", "--kafka-config", path});
    EXPECT_EQ(e.rfind("--kafka-config: \"" + path + "\"", 0), 0u) << bad << e;
  }
  EXPECT_NE(error_of({"--sink", "kafka", "--kafka-config", path + ".missing"}).find("cannot read"),
            std::string::npos);
  std::remove(path.c_str());
}

TEST(OptionsKafka, ErrorsNameTheirFlag) {
  EXPECT_EQ(error_of({"--sink", "kafka", "-X", "nope=1"}),
            "-X: No such configuration property: \"nope\", got \"nope=1\"");
  EXPECT_EQ(error_of({"--sink", "kafka", "-X", "nope"}),
            "-X: expected NAME=VALUE (a librdkafka property), got \"nope\"");
  EXPECT_EQ(error_of({"--sink", "kafka", "-X", "=1"}),
            "-X: expected NAME=VALUE (a librdkafka property), got \"=1\"");
  EXPECT_NE(error_of({"--sink", "kafka", "-X", "acks=1"}).find("set by --acks"), std::string::npos);
  // A secret given anyway is refused without being repeated.
  const std::string secret = error_of({"--sink", "kafka", "-X", "sasl.password=hunter2"});
  EXPECT_NE(secret.find("--password-file"), std::string::npos);
  EXPECT_EQ(secret.find("hunter2"), std::string::npos);
  for (const char* name : {"ssl.keystore.password", "ssl.key.password", "ssl.key.pem",
                           "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config"})
    EXPECT_EQ(error_of({"--sink", "kafka", "-X", std::string(name) + "=hunter2"}),
              std::string("-X: ") + name +
                  " holds a secret: put it in a --kafka-config file (secrets are never taken on "
                  "the command line)");
  // librdkafka would run it through a shell.
  EXPECT_EQ(error_of({"--sink", "kafka", "-X", "sasl.kerberos.kinit.cmd=kinit"}),
            "-X: sasl.kerberos.kinit.cmd is set by nobody: it runs a shell; run kinit yourself");
  EXPECT_EQ(error_of({"--sink", "kafka", "--brokers", ""}),
            "--brokers: expected host:port[,host:port...] (port 1 to 65535), got \"\"");
  for (const char* bad : {"k", "k:", ":1", "k:0", "k:65536", "k:1,", "k 1:2", "[::1:9"})
    EXPECT_NE(error_of({"--sink", "kafka", "--brokers", bad}), "") << bad;
  EXPECT_EQ(error_of({"--sink", "kafka", "--topic", "a b"}),
            "--topic: a Kafka topic is 1 to 249 of a-z A-Z 0-9 . _ -, got \"a b\"");
  EXPECT_NE(error_of({"--sink", "kafka", "--topic", ".."}), "");
  EXPECT_NE(error_of({"--sink", "kafka", "--topic", std::string(250, 't')}), "");
  EXPECT_NE(error_of({"--sink", "kafka", "--key", "{dev"}).find("--key"), std::string::npos);
  EXPECT_EQ(error_of({"--sink", "kafka", "--acks", "2"}),
            "--acks: unknown --acks value \"2\" (accepted: all, -1, 1, 0)");
  EXPECT_NE(error_of({"--sink", "kafka", "--producers", "0"}).find("--producers"),
            std::string::npos);
  EXPECT_EQ(error_of({"--sink", "kafka", "--port", "9092"}),
            "--port: --sink kafka takes --brokers host:port,...");
  EXPECT_EQ(error_of({"--brokers", "a:1"}), "--brokers: only with --sink kafka");
  EXPECT_EQ(error_of({"--sink", "mqtt", "-X", "a=b"}), "-X: only with --sink kafka");
  EXPECT_EQ(error_of({"--sink", "tcp", "--topic", "t"}), "--topic: only with --sink mqtt or kafka");
  EXPECT_EQ(error_of({"--sink", "kafka", "--subscribers", "1"}),
            "--subscribers: --sink kafka has --consumers");
  EXPECT_NE(error_of({"--sink", "kafka", "--connect-rate", "10"}).find("--connect-rate"),
            std::string::npos);
  EXPECT_EQ(error_of({"--sink", "kafka", "--username", "u"}),
            "--username: kafka SASL needs a password: --password-file or $LT_PASSWORD");
}

}  // namespace
}  // namespace lt
