#pragma once
// Per-device names (MQTT topics and client ids, NATS subjects, routing keys): a text with the
// placeholders {device} (the device's global id) and {rank} (this process's rank in a
// distributed run), checked once at start-up and expanded once per device, never per message.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lt {

class NameTemplate {
 public:
  // nullopt with `why` for an unknown placeholder or an unclosed brace ("{{" is a literal "{").
  static std::optional<NameTemplate> parse(std::string_view text, std::string& why);
  std::string expand(std::uint64_t device, std::uint64_t rank) const;
  bool uses_device() const { return uses_device_; }

 private:
  enum class Part : std::uint8_t { Text, Device, Rank };
  std::vector<std::pair<Part, std::string>> parts_;
  bool uses_device_ = false;
};

}  // namespace lt
