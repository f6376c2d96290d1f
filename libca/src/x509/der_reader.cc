// Strict DER reading.
#include "der_reader.h"

namespace mayfly::der {

std::optional<Element> Reader::Peek() const {
  if (failed_ || rest_.size() < 2) return std::nullopt;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(rest_[i]); };
  const uint8_t tag = byte(0);
  if ((tag & 0x1f) == 0x1f) return std::nullopt;  // high tag numbers: never in what Mayfly reads
  size_t length = byte(1);
  size_t header = 2;
  if (length >= 0x80) {
    // Long form: 1 to 4 length bytes, no leading zero byte, and only for
    // lengths the short form cannot say (DER's shortest encoding).
    const size_t count = length & 0x7f;
    if (count == 0 || count > 4 || rest_.size() < 2 + count || byte(2) == 0) return std::nullopt;
    length = 0;
    for (size_t i = 0; i < count; ++i) length = (length << 8) | byte(2 + i);
    if (length < 0x80) return std::nullopt;
    header += count;
  }
  if (length > rest_.size() - header) return std::nullopt;
  return Element{tag, rest_.substr(header, length), rest_.substr(0, header + length)};
}

std::optional<Element> Reader::Take(std::optional<uint8_t> tag) {
  auto element = Peek();
  if (!element || (tag && element->tag != *tag)) {
    failed_ = true;
    return std::nullopt;
  }
  rest_.remove_prefix(element->encoded.size());
  return element;
}

std::optional<Element> Reader::NextAny() { return Take(std::nullopt); }

std::optional<Element> Reader::Next(uint8_t tag) { return Take(tag); }

std::optional<Element> Reader::NextIf(uint8_t tag) {
  if (failed_ || rest_.empty() || static_cast<uint8_t>(rest_[0]) != tag) return std::nullopt;
  return Next(tag);
}

}  // namespace mayfly::der
