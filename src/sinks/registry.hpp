#pragma once
// The table of sinks by name. Adding a protocol is one new file and one row in registry.cpp.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sinks/sink.hpp"

namespace lt {

struct SinkInfo {
  std::string_view name;
  std::string_view summary;
  std::size_t min_payload;  // bytes a message needs for the sink's own header
  std::unique_ptr<Sink> (*make)(SinkContext& context);
};

const SinkInfo* find_sink(std::string_view name);
std::vector<std::string> sink_names();

}  // namespace lt
