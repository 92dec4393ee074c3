// Fuzzes lt::nats::Reader: any split of a stream must yield the operations and the verdict of
// reading it whole. INFO's JSON, HMSG header blocks and the input as a subject go through their
// parsers too. Input: a byte choosing the payload limit, then the split (harness.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"
#include "nats/codec.hpp"

namespace {

using lt::nats::Op;

struct Seen {
  Op op;
  std::string subject, sid, reply, headers, payload, text;
  bool operator==(const Seen&) const = default;
};

struct Outcome {
  std::vector<Seen> ops;
  bool ok = true;
  std::string error;
  bool operator==(const Outcome&) const = default;
};

Outcome read(std::size_t max_payload, const lt::fuzz::Split& in, bool whole) {
  lt::nats::Reader reader(max_payload);
  Outcome out;
  auto keep = [&](const lt::nats::Message& m) {
    auto s = [](std::string_view v) { return std::string(v); };
    out.ops.push_back(
        {m.op, s(m.subject), s(m.sid), s(m.reply), s(m.headers), s(m.payload), s(m.text)});
    return true;
  };
  lt::fuzz::for_each_piece(in.stream, whole ? std::vector<std::size_t>{} : in.cuts,
                           [&](const char* p, std::size_t n) {
                             const std::size_t before = out.ops.size();
                             const bool fed = reader.feed(p, n, keep);
                             // Once the stream is refused, every later read is refused unread.
                             if (!out.ok) LT_FUZZ_CHECK(!fed && out.ops.size() == before);
                             out.ok = out.ok && fed;
                           });
  out.error = reader.error();
  LT_FUZZ_CHECK(out.ok == out.error.empty());
  return out;
}

void check_op(const Seen& s, std::size_t max_payload) {
  switch (s.op) {
    case Op::Msg: {
      LT_FUZZ_CHECK(!s.subject.empty() && !s.sid.empty());
      LT_FUZZ_CHECK(s.headers.size() + s.payload.size() <= max_payload);
      const int status = lt::nats::header_status(s.headers);
      LT_FUZZ_CHECK(status >= 0 && status <= 999);
      break;
    }
    case Op::Info: {
      LT_FUZZ_CHECK(!s.text.empty());
      std::string why;
      if (const auto info = lt::nats::parse_info(s.text, why)) {
        LT_FUZZ_CHECK(info->max_payload >= 1 && info->proto >= 0);
      } else {
        LT_FUZZ_CHECK(!why.empty());
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const std::string strict = lt::nats::check_subject(all, false);
  const std::string wild = lt::nats::check_subject(all, true);
  LT_FUZZ_CHECK(!strict.empty() || wild.empty());  // valid without wildcards: valid with them
  if (size == 0) return 0;

  const std::size_t max_payload = std::size_t(1) << (data[0] % 21);  // 1 B to 1 MiB
  const lt::fuzz::Split in = lt::fuzz::split_input(data + 1, size - 1);
  const Outcome whole = read(max_payload, in, true);
  const Outcome split = read(max_payload, in, false);
  LT_FUZZ_CHECK(whole == split);
  for (const Seen& s : whole.ops) check_op(s, max_payload);
  return 0;
}
