#pragma once
// Human-readable numbers for the terminal (files keep raw nanoseconds and counts).
#include <cstdint>
#include <string>

#include "core/time.hpp"

namespace lt {

std::string format_duration(Nanos ns);       // "850ns", "12.3us", "4.56ms", "1.20s"
std::string format_rate(double per_second);  // "100000/s", "1.25M/s"
std::string format_utc(Nanos unix_ns);       // "2026-11-29T06:00:00.000Z"

}  // namespace lt
