#pragma once
// Parsers for values with units. Each returns std::nullopt on anything malformed, negative,
// out of range or overflowing; the caller names the flag in its error message.
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/rate.hpp"
#include "core/time.hpp"

namespace lt {

// "500ms", "2m", "1h30m", "10s", "250us", "100ns", "1.5s"; a bare number means seconds.
std::optional<Nanos> parse_duration(std::string_view text);

// "100", "0.5", "10k", "1.5M", "2G": decimal SI suffixes. Exact: "0.1" is Rate{1, 10}.
std::optional<Rate> parse_rate(std::string_view text);

// "64", "1k" (1000), "1KiB"/"1Ki" (1024), "2M", "1MiB": byte counts.
std::optional<std::uint64_t> parse_size(std::string_view text);

// Plain non-negative integer with optional SI suffix ("10k" = 10000); fraction results rejected.
std::optional<std::uint64_t> parse_count(std::string_view text);

}  // namespace lt
