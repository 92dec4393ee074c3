// Fuzzes the parsers of command-line text: lt::http::parse_url, and the units (durations,
// rates, sizes, counts). None may crash; what parses is printed back (format_exact, as
// describe_options() does) and must parse again to the same value.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/flags.hpp"
#include "cli/units.hpp"
#include "harness.hpp"
#include "http/url.hpp"

namespace {

void check_url(std::string_view text) {
  if (const auto decoded = lt::http::percent_decode(text))
    LT_FUZZ_CHECK(decoded->size() <= text.size());
  std::string why;
  const auto url = lt::http::parse_url(text, why);
  if (!url) {
    LT_FUZZ_CHECK(!why.empty());
    return;
  }
  LT_FUZZ_CHECK(!url->host.empty() && url->port != 0);
  LT_FUZZ_CHECK(!url->target.empty() && url->target.front() == '/');
  LT_FUZZ_CHECK(url->sink == "http" || url->sink == "mqtt" || url->sink == "nats" ||
                url->sink == "amqp");
  // A user name only where the scheme takes one (amqp), never with a password.
  LT_FUZZ_CHECK(url->user.empty() || url->sink == "amqp");
  // The same URL written out in full, its host bracketed when it would not read back bare.
  const bool bracket = url->host.find(':') != std::string::npos || url->host.front() == '[';
  const std::string host = bracket ? "[" + url->host + "]" : url->host;
  const std::string again = fmt::format("{}://{}:{}{}", url->scheme, host, url->port, url->target);
  const auto reread = lt::http::parse_url(again, why);
  LT_FUZZ_CHECK(reread && reread->scheme == url->scheme && reread->sink == url->sink);
  LT_FUZZ_CHECK(reread->tls == url->tls && reread->host == url->host);
  LT_FUZZ_CHECK(reread->port == url->port && reread->target == url->target);
}

void check_units(std::string_view text) {
  if (const auto d = lt::parse_duration(text)) {
    LT_FUZZ_CHECK(*d >= 0 && lt::parse_duration(lt::format_exact(*d)) == d);
  }
  const auto rate = lt::parse_rate(text);
  if (rate) {
    LT_FUZZ_CHECK(rate->den != 0);
    const auto again = lt::parse_rate(lt::format_exact(*rate));
    LT_FUZZ_CHECK(again && again->num == rate->num && again->den == rate->den);
  }
  // A count is a rate that is a whole number, and a size too.
  const auto count = lt::parse_count(text);
  LT_FUZZ_CHECK(count.has_value() == (rate && rate->den == 1));
  if (count) {
    LT_FUZZ_CHECK(*count == rate->num && lt::parse_size(text) == count);
    LT_FUZZ_CHECK(lt::parse_count(fmt::to_string(*count)) == count);
  }
  if (const auto size = lt::parse_size(text)) {
    LT_FUZZ_CHECK(lt::parse_size(fmt::to_string(*size)) == size);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_url(text);
  check_units(text);
  return 0;
}
