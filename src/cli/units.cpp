#include "cli/units.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <string_view>

namespace lt {

namespace {

// A non-negative decimal read exactly: value = mantissa / 10^scale. Parsing by hand (not strtod)
// keeps "0.1" exact and refuses the locale, sign, whitespace, hex, exponent and nan/inf forms
// that the C library would accept.
struct Decimal {
  u128 mantissa = 0;
  int scale = 0;
};

constexpr int kMaxDecimals = 9;
// Far above any accepted value (uint64 max times 10^9), far below u128 max, so accumulating
// digits never wraps and later checked multiplications start from a sane value.
constexpr u128 kMantissaCap = u128(std::numeric_limits<std::uint64_t>::max()) * 1'000'000'000u;

constexpr std::array<u128, kMaxDecimals + 1> kPow10 = {
    1u,       10u,        100u,        1'000u,       10'000u,
    100'000u, 1'000'000u, 10'000'000u, 100'000'000u, 1'000'000'000u};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Consumes "123", "1.5" or ".5" from the front of `s`. A lone "." or "5." is rejected: both are
// more likely typos than intent.
std::optional<Decimal> take_decimal(std::string_view& s) {
  Decimal d;
  std::size_t i = 0;
  bool any = false;
  auto add_digit = [&](char c) {
    d.mantissa = d.mantissa * 10 + u128(c - '0');
    return d.mantissa <= kMantissaCap;
  };
  for (; i < s.size() && is_digit(s[i]); ++i, any = true)
    if (!add_digit(s[i])) return std::nullopt;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t start = i;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (++d.scale > kMaxDecimals || !add_digit(s[i])) return std::nullopt;
    }
    if (i == start) return std::nullopt;
    any = true;
  }
  if (!any) return std::nullopt;
  s.remove_prefix(i);
  return d;
}

// std::gcd refuses __int128 under strict -std=c++20 (it is not std::is_integral there).
u128 gcd128(u128 a, u128 b) {
  while (b != 0) {
    u128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// value * multiplier, required to be a whole number that fits in `limit`.
std::optional<u128> scale_exact(const Decimal& d, u128 multiplier, u128 limit) {
  u128 product;
  if (__builtin_mul_overflow(d.mantissa, multiplier, &product)) return std::nullopt;
  const u128 div = kPow10[d.scale];
  if (product % div != 0) return std::nullopt;
  product /= div;
  if (product > limit) return std::nullopt;
  return product;
}

struct Suffix {
  std::string_view text;
  std::uint64_t multiplier;
};

// "k" and "K" both mean 1000: people write either, and nothing else could be meant.
constexpr std::array kSiSuffixes = {
    Suffix{"k", 1'000},
    Suffix{"K", 1'000},
    Suffix{"M", 1'000'000},
    Suffix{"G", 1'000'000'000},
    Suffix{"T", 1'000'000'000'000},
};
constexpr std::array kSizeSuffixes = {
    Suffix{"Ki", 1ull << 10}, Suffix{"Mi", 1ull << 20},   Suffix{"Gi", 1ull << 30},
    Suffix{"Ti", 1ull << 40}, Suffix{"k", 1'000},         Suffix{"K", 1'000},
    Suffix{"M", 1'000'000},   Suffix{"G", 1'000'000'000}, Suffix{"T", 1'000'000'000'000},
};

// Empty `rest` means multiplier 1; anything unrecognised is trailing junk.
template <std::size_t N>
std::optional<std::uint64_t> suffix_multiplier(std::string_view rest,
                                               const std::array<Suffix, N>& table) {
  if (rest.empty()) return 1;
  for (const auto& s : table)
    if (rest == s.text) return s.multiplier;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_scaled(std::string_view text, bool bytes) {
  auto d = take_decimal(text);
  if (!d) return std::nullopt;
  std::string_view rest = text;
  // Sizes may spell the unit out: "64B", "1KiB", "2MB".
  if (bytes && !rest.empty() && rest.back() == 'B') rest.remove_suffix(1);
  auto mult = bytes ? suffix_multiplier(rest, kSizeSuffixes) : suffix_multiplier(rest, kSiSuffixes);
  if (!mult) return std::nullopt;
  auto v = scale_exact(*d, *mult, std::numeric_limits<std::uint64_t>::max());
  if (!v) return std::nullopt;
  return std::uint64_t(*v);
}

struct DurationUnit {
  std::string_view text;
  Nanos ns;
};

// Both micro signs are accepted because keyboards and copy-paste produce either (Go does too).
constexpr std::array kDurationUnits = {
    DurationUnit{"ns", 1},
    DurationUnit{"us", kMicro},
    DurationUnit{"\xC2\xB5s", kMicro},  // U+00B5 MICRO SIGN
    DurationUnit{"\xCE\xBCs", kMicro},  // U+03BC GREEK SMALL LETTER MU
    DurationUnit{"ms", kMilli},
    DurationUnit{"s", kSecond},
    DurationUnit{"m", 60 * kSecond},
    DurationUnit{"h", 3600 * kSecond},
};

// Longest unit that prefixes `s`, so "ms" wins over "m".
const DurationUnit* take_duration_unit(std::string_view& s) {
  const DurationUnit* best = nullptr;
  for (const auto& u : kDurationUnits)
    if (s.starts_with(u.text) && (!best || u.text.size() > best->text.size())) best = &u;
  if (best) s.remove_prefix(best->text.size());
  return best;
}

}  // namespace

std::optional<Nanos> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  constexpr u128 kLimit = u128(std::numeric_limits<Nanos>::max());
  u128 total = 0;
  bool first = true;
  while (!text.empty()) {
    auto d = take_decimal(text);
    if (!d) return std::nullopt;
    const DurationUnit* unit = take_duration_unit(text);
    // A bare number means seconds, but only on its own: "1h30" is more likely a mistake.
    if (!unit && (!first || !text.empty())) return std::nullopt;
    // Sub-nanosecond fractions are refused rather than silently truncated.
    auto part = scale_exact(*d, u128(unit ? unit->ns : kSecond), kLimit);
    if (!part) return std::nullopt;
    total += *part;
    if (total > kLimit) return std::nullopt;
    first = false;
  }
  return Nanos(total);
}

std::optional<Rate> parse_rate(std::string_view text) {
  auto d = take_decimal(text);
  if (!d) return std::nullopt;
  auto mult = suffix_multiplier(text, kSiSuffixes);
  if (!mult) return std::nullopt;
  u128 num;
  if (__builtin_mul_overflow(d->mantissa, u128(*mult), &num)) return std::nullopt;
  u128 den = kPow10[d->scale];
  const u128 g = gcd128(num, den);  // gcd(0, den) = den, so zero becomes {0, 1}
  num /= g;
  den /= g;
  if (num > std::numeric_limits<std::uint64_t>::max()) return std::nullopt;
  return Rate{std::uint64_t(num), std::uint64_t(den)};
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  return parse_scaled(text, true);
}

std::optional<std::uint64_t> parse_count(std::string_view text) {
  return parse_scaled(text, false);
}

}  // namespace lt
