// The MQTT encoders, byte for byte against the spec's layouts (hand-computed).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "byte_strings.hpp"
#include "mqtt/codec.hpp"

namespace lt::mqtt {
namespace {

using lt::test::bytes;
using lt::test::hex;

TEST(MqttEncode, Connect311WithUserAndPassword) {
  ConnectParams p;
  p.client_id = "c1";
  p.keepalive_s = 60;
  p.username = "u";
  p.password = "pw";
  std::string out;
  encode_connect(out, p);
  // Remaining length 21: 10 (variable header) + 4 (id) + 3 (user) + 4 (password).
  // Flags 0xC2: user name, password, clean session.
  EXPECT_BYTES(out, 0x10, 0x15, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xC2, 0x00, 0x3C, 0x00, 0x02,
               'c', '1', 0x00, 0x01, 'u', 0x00, 0x02, 'p', 'w');
}

TEST(MqttEncode, Connect5WithBothProperties) {
  ConnectParams p;
  p.version = Version::V5;
  p.client_id = "dev-7";
  p.clean = false;
  p.keepalive_s = 30;
  p.session_expiry_s = 3600;
  p.receive_maximum = 100;
  std::string out = "x";  // appends
  encode_connect(out, p);
  // Remaining length 26: 10 + 1 (property length) + 8 (properties) + 7 (id).
  EXPECT_BYTES(out, 'x', 0x10, 0x1A, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x00, 0x00, 0x1E,  //
               0x08, 0x11, 0x00, 0x00, 0x0E, 0x10, 0x21, 0x00, 0x64,                          //
               0x00, 0x05, 'd', 'e', 'v', '-', '7');
}

TEST(MqttEncode, Connect5WithoutPropertiesAndEmptyId) {
  ConnectParams p;
  p.version = Version::V5;
  p.password = "";  // 5.0 allows a password without a user name
  std::string out;
  encode_connect(out, p);
  EXPECT_BYTES(out, 0x10, 0x0F, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x42, 0x00, 0x3C, 0x00, 0x00,
               0x00, 0x00, 0x00);
}

TEST(MqttEncode, PublishHeads) {
  PublishHead h = publish_head(Version::V311, "a/b", 0, false, 5);
  EXPECT_BYTES(h.bytes, 0x30, 0x0A, 0x00, 0x03, 'a', '/', 'b');
  EXPECT_EQ(h.id_offset, std::string::npos);

  h = publish_head(Version::V311, "t", 1, true, 0);
  EXPECT_BYTES(h.bytes, 0x33, 0x05, 0x00, 0x01, 't', 0x00, 0x00);
  EXPECT_EQ(h.id_offset, 5u);

  h = publish_head(Version::V5, "t", 2, false, 10);
  EXPECT_BYTES(h.bytes, 0x34, 0x10, 0x00, 0x01, 't', 0x00, 0x00, 0x00);
  EXPECT_EQ(h.id_offset, 5u);

  h = publish_head(Version::V5, "t", 0, true, 0);
  EXPECT_BYTES(h.bytes, 0x31, 0x04, 0x00, 0x01, 't', 0x00);

  // Remaining length 321 = 0x41 + 2 * 128: the spec's two-byte example, C1 02.
  h = publish_head(Version::V311, "t", 0, false, 318);
  EXPECT_BYTES(h.bytes, 0x30, 0xC1, 0x02, 0x00, 0x01, 't');
  // 16,384 needs three bytes: 80 80 01.
  h = publish_head(Version::V311, "t", 1, false, 16384 - 5);
  EXPECT_BYTES(h.bytes, 0x32, 0x80, 0x80, 0x01, 0x00, 0x01, 't', 0x00, 0x00);
  EXPECT_EQ(h.id_offset, 7u);

  std::string packet = h.bytes;
  set_dup(packet.data());
  EXPECT_EQ(static_cast<unsigned char>(packet[0]), 0x3Au);
}

TEST(MqttEncode, Acks) {
  for (Version v : {Version::V311, Version::V5}) {
    std::string out;
    encode_ack(out, v, Type::Puback, 0x1234);
    encode_ack(out, v, Type::Pubrec, 0x0001);
    encode_ack(out, v, Type::Pubrel, 0xFFFF);
    encode_ack(out, v, Type::Pubcomp, 0x0100);
    EXPECT_BYTES(out, 0x40, 0x02, 0x12, 0x34, 0x50, 0x02, 0x00, 0x01, 0x62, 0x02, 0xFF, 0xFF, 0x70,
                 0x02, 0x01, 0x00);
  }
}

TEST(MqttEncode, Subscribe) {
  std::string out;
  encode_subscribe(out, Version::V311, 10, {"a/#", "b"}, 1);
  EXPECT_BYTES(out, 0x82, 0x0C, 0x00, 0x0A, 0x00, 0x03, 'a', '/', '#', 0x01, 0x00, 0x01, 'b', 0x01);
  out.clear();
  encode_subscribe(out, Version::V5, 10, {"a/#", "b"}, 2);
  EXPECT_BYTES(out, 0x82, 0x0D, 0x00, 0x0A, 0x00, 0x00, 0x03, 'a', '/', '#', 0x02, 0x00, 0x01, 'b',
               0x02);
}

TEST(MqttEncode, PingreqAndDisconnect) {
  std::string out;
  encode_pingreq(out);
  encode_disconnect(out, Version::V311);
  encode_disconnect(out, Version::V5);
  EXPECT_BYTES(out, 0xC0, 0x00, 0xE0, 0x00, 0xE0, 0x00);
}

}  // namespace
}  // namespace lt::mqtt
