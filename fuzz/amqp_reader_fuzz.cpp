// Fuzzes lt::amqp::FrameReader: any split of a stream must yield the frames and the verdict of
// reading it whole, and a callback's false must stop a read. Every method frame's arguments go
// through parse_method and all the argument parsers, header frames through
// parse_content_header; what parses is encoded again and must read back the same. Input: a
// byte choosing frame-max (4096 B to 1 MiB) and where a callback stops, then the split
// (harness.hpp).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "amqp/codec.hpp"
#include "harness.hpp"

namespace {

using lt::amqp::FrameType;

struct Seen {
  FrameType type;
  std::uint16_t channel;
  std::string payload;
  bool operator==(const Seen&) const = default;
};

struct Outcome {
  std::vector<Seen> frames;
  bool ok = true;
  std::string error;
  bool operator==(const Outcome&) const = default;
};

Outcome read(std::uint32_t frame_max, const lt::fuzz::Split& in, bool whole) {
  lt::amqp::FrameReader reader(frame_max);
  Outcome out;
  auto keep = [&](const lt::amqp::Frame& f) {
    out.frames.push_back({f.type, f.channel, std::string(f.payload)});
    return true;
  };
  lt::fuzz::for_each_piece(in.stream, whole ? std::vector<std::size_t>{} : in.cuts,
                           [&](const char* p, std::size_t n) {
                             const std::size_t before = out.frames.size();
                             const bool fed = reader.feed(p, n, keep);
                             // Once the stream is refused, every later read is refused unread.
                             if (!out.ok) LT_FUZZ_CHECK(!fed && out.frames.size() == before);
                             out.ok = out.ok && fed;
                           });
  out.error = reader.error();
  LT_FUZZ_CHECK(out.ok == out.error.empty());
  return out;
}

// Reads the split stream with a callback that returns false at frame `stop`: that read ends
// there, with no verdict of its own (true unless the stream was already refused); the frames
// until then are the whole stream's.
void read_until(std::uint32_t frame_max, const lt::fuzz::Split& in, std::size_t stop,
                const Outcome& whole) {
  lt::amqp::FrameReader reader(frame_max);
  std::vector<Seen> frames;
  bool stopped = false;
  lt::fuzz::for_each_piece(in.stream, in.cuts, [&](const char* p, std::size_t n) {
    if (stopped) return;
    const bool fed = reader.feed(p, n, [&](const lt::amqp::Frame& f) {
      LT_FUZZ_CHECK(!stopped);
      frames.push_back({f.type, f.channel, std::string(f.payload)});
      stopped = frames.size() == stop + 1;
      return !stopped;
    });
    if (stopped) LT_FUZZ_CHECK(fed);
  });
  LT_FUZZ_CHECK(frames.size() <= whole.frames.size());
  LT_FUZZ_CHECK(stopped == (stop < whole.frames.size()));
  for (std::size_t i = 0; i < frames.size(); ++i) LT_FUZZ_CHECK(frames[i] == whole.frames[i]);
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// A parser's result and its reason agree: a value and no reason, or a reason and no value.
template <typename T>
bool agrees(const std::optional<T>& v, const std::string& why) {
  return v.has_value() == why.empty();
}

// Every parser on `args`, whatever the method: none may crash, each agrees with its reason,
// and what parses is encoded again (where an encoder exists) and reads back the same.
void parse_all(std::string_view args, std::uint32_t frame_max) {
  std::string why;
  const auto start = lt::amqp::parse_start(args, why);
  LT_FUZZ_CHECK(agrees(start, why));
  if (start) {
    LT_FUZZ_CHECK(inside(start->mechanisms, args));
    (void)lt::amqp::has_word(start->mechanisms, "PLAIN");
  }

  why.clear();
  const auto tune = lt::amqp::parse_tune(args, why);
  LT_FUZZ_CHECK(agrees(tune, why));
  if (tune) {
    LT_FUZZ_CHECK(tune->frame_max == 0 || tune->frame_max >= lt::amqp::kMinFrameMax);
    // tune-ok has tune's layout.
    std::string out;
    lt::amqp::encode_tune_ok(out, tune->channel_max, tune->frame_max, tune->heartbeat_s);
    LT_FUZZ_CHECK(out.size() == 20);
    std::string w;
    const auto m = lt::amqp::parse_method(std::string_view(out).substr(7, 12), w);
    LT_FUZZ_CHECK(m && m->id == lt::amqp::method::kTuneOk);
    const auto back = lt::amqp::parse_tune(m->args, w);
    LT_FUZZ_CHECK(back && back->channel_max == tune->channel_max &&
                  back->frame_max == tune->frame_max && back->heartbeat_s == tune->heartbeat_s);
  }

  why.clear();
  const auto close = lt::amqp::parse_close(args, why);
  LT_FUZZ_CHECK(agrees(close, why));
  if (close) {
    LT_FUZZ_CHECK(inside(close->text, args) && close->text.size() <= 255);
    LT_FUZZ_CHECK(!lt::amqp::method_name(close->failed_method).empty());
    std::string out;
    lt::amqp::encode_close(out, 1, close->code, close->text);
    lt::amqp::FrameReader reader(frame_max);
    int frames = 0;
    LT_FUZZ_CHECK(reader.feed(out.data(), out.size(), [&](const lt::amqp::Frame& f) {
      ++frames;
      std::string w;
      const auto m = lt::amqp::parse_method(f.payload, w);
      LT_FUZZ_CHECK(m && m->id == lt::amqp::method::kChannelClose);
      const auto back = lt::amqp::parse_close(m->args, w);
      LT_FUZZ_CHECK(back && back->code == close->code && back->text == close->text &&
                    back->failed_method == 0);
      return true;
    }));
    LT_FUZZ_CHECK(frames == 1);
  }

  why.clear();
  const auto ack = lt::amqp::parse_ack(args, why);
  LT_FUZZ_CHECK(agrees(ack, why));

  why.clear();
  const auto ret = lt::amqp::parse_return(args, why);
  LT_FUZZ_CHECK(agrees(ret, why));
  if (ret) {
    LT_FUZZ_CHECK(inside(ret->text, args) && inside(ret->exchange, args) &&
                  inside(ret->routing_key, args));
    LT_FUZZ_CHECK(lt::amqp::check_short_string(ret->exchange).empty() &&
                  lt::amqp::check_short_string(ret->routing_key).empty());
  }

  why.clear();
  const auto deliver = lt::amqp::parse_deliver(args, why);
  LT_FUZZ_CHECK(agrees(deliver, why));
  if (deliver) {
    LT_FUZZ_CHECK(inside(deliver->consumer_tag, args) && inside(deliver->exchange, args) &&
                  inside(deliver->routing_key, args));
    // What a publish to the same exchange and key would send reads back as one method frame
    // and one content header.
    const std::string head =
        lt::amqp::publish_head(1, deliver->exchange, deliver->routing_key, deliver->redelivered,
                               true, deliver->delivery_tag);
    lt::amqp::FrameReader reader(frame_max);
    std::vector<Seen> frames;
    LT_FUZZ_CHECK(reader.feed(head.data(), head.size(), [&](const lt::amqp::Frame& f) {
      frames.push_back({f.type, f.channel, std::string(f.payload)});
      return true;
    }));
    LT_FUZZ_CHECK(frames.size() == 2 && frames[0].type == FrameType::Method &&
                  frames[1].type == FrameType::Header);
    std::string w;
    const auto m = lt::amqp::parse_method(frames[0].payload, w);
    LT_FUZZ_CHECK(m && m->id == lt::amqp::method::kPublish);
    const auto h = lt::amqp::parse_content_header(frames[1].payload, w);
    LT_FUZZ_CHECK(h && h->class_id == 60 && h->body_size == deliver->delivery_tag);
  }

  why.clear();
  const auto blocked = lt::amqp::parse_blocked(args, why);
  LT_FUZZ_CHECK(agrees(blocked, why));
  if (blocked) LT_FUZZ_CHECK(inside(*blocked, args));

  why.clear();
  const auto flow = lt::amqp::parse_flow(args, why);
  LT_FUZZ_CHECK(agrees(flow, why));
  LT_FUZZ_CHECK(flow.has_value() == !args.empty());

  why.clear();
  const auto header = lt::amqp::parse_content_header(args, why);
  LT_FUZZ_CHECK(agrees(header, why));
  LT_FUZZ_CHECK(header.has_value() == (args.size() >= 14));
}

void check_frame(const Seen& s, std::uint32_t frame_max) {
  LT_FUZZ_CHECK(s.type == FrameType::Method || s.type == FrameType::Header ||
                s.type == FrameType::Body || s.type == FrameType::Heartbeat);
  LT_FUZZ_CHECK(s.payload.size() + lt::amqp::kFrameOverhead <= frame_max);
  std::string why;
  switch (s.type) {
    case FrameType::Method: {
      const auto m = lt::amqp::parse_method(s.payload, why);
      LT_FUZZ_CHECK(agrees(m, why));
      LT_FUZZ_CHECK(m.has_value() == (s.payload.size() >= 4));
      if (!m) break;
      LT_FUZZ_CHECK(m->args.size() == s.payload.size() - 4 && inside(m->args, s.payload));
      LT_FUZZ_CHECK(!lt::amqp::method_name(m->id).empty());
      parse_all(m->args, frame_max);
      break;
    }
    case FrameType::Header: {
      const auto h = lt::amqp::parse_content_header(s.payload, why);
      LT_FUZZ_CHECK(agrees(h, why));
      break;
    }
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint32_t frame_max = lt::amqp::kMinFrameMax << (data[0] % 9);  // 4 KiB to 1 MiB
  const std::size_t stop = data[0] / 9 % 8;  // the frame at which a callback stops
  const lt::fuzz::Split in = lt::fuzz::split_input(data + 1, size - 1);
  const Outcome whole = read(frame_max, in, true);
  const Outcome split = read(frame_max, in, false);
  LT_FUZZ_CHECK(whole == split);
  read_until(frame_max, in, stop, whole);
  for (const Seen& s : whole.frames) check_frame(s, frame_max);
  return 0;
}
