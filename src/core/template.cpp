#include "core/template.hpp"

namespace lt {

std::optional<NameTemplate> NameTemplate::parse(std::string_view text, std::string& why) {
  NameTemplate t;
  std::string literal;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal += c;
      ++i;
      continue;
    }
    if (c == '}') {
      why = "a '}' without its '{' (write \"}}\" for a literal one)";
      return std::nullopt;
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    const auto close = text.find('}', i);
    if (close == std::string_view::npos) {
      why = "an unclosed '{' (write \"{{\" for a literal one)";
      return std::nullopt;
    }
    const std::string_view name = text.substr(i + 1, close - i - 1);
    Part part;
    if (name == "device") {
      part = Part::Device;
      t.uses_device_ = true;
    } else if (name == "rank") {
      part = Part::Rank;
    } else {
      why = "unknown placeholder {" + std::string(name) + "} (accepted: {device}, {rank})";
      return std::nullopt;
    }
    if (!literal.empty()) t.parts_.emplace_back(Part::Text, std::move(literal));
    literal.clear();
    t.parts_.emplace_back(part, std::string());
    i = close;
  }
  if (!literal.empty()) t.parts_.emplace_back(Part::Text, std::move(literal));
  return t;
}

std::string NameTemplate::expand(std::uint64_t device, std::uint64_t rank) const {
  std::string out;
  for (const auto& [part, text] : parts_) {
    switch (part) {
      case Part::Text:
        out += text;
        break;
      case Part::Device:
        out += std::to_string(device);
        break;
      case Part::Rank:
        out += std::to_string(rank);
        break;
    }
  }
  return out;
}

}  // namespace lt
