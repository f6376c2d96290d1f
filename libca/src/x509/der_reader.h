// Strict DER reading for the structures Mayfly takes apart itself on the
// issuance hot path (internal to libca). The counterpart of der_writer.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mayfly::der {

inline constexpr uint8_t kBoolean = 0x01;
inline constexpr uint8_t kNull = 0x05;
inline constexpr uint8_t kObjectIdentifier = 0x06;

// One element: its tag, its content, and all of its bytes as encoded.
struct Element {
  uint8_t tag = 0;
  std::string_view content;
  std::string_view encoded;
};

// Reads the elements of a byte string one after another. Only DER is
// accepted: single-byte tags, definite lengths in their shortest form, and
// no element running past the end. A reader that met bad bytes stays failed.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  // The next element, if it has `tag` and is well-formed; nothing is
  // consumed (and the reader fails) otherwise.
  std::optional<Element> Next(uint8_t tag);
  // The next element, if it has `tag`; nullopt and nothing consumed when the
  // next element has another tag or there is none (OPTIONAL and DEFAULT
  // fields). Malformed bytes fail the reader.
  std::optional<Element> NextIf(uint8_t tag);
  // The next element whatever its tag.
  std::optional<Element> NextAny();

  bool AtEnd() const { return rest_.empty(); }
  bool failed() const { return failed_; }
  // True when every byte was read as well-formed elements.
  bool Done() const { return !failed_ && rest_.empty(); }

 private:
  std::optional<Element> Peek() const;
  // The next element (with `tag`, when given), consumed; fails the reader otherwise.
  std::optional<Element> Take(std::optional<uint8_t> tag);

  std::string_view rest_;
  bool failed_ = false;
};

}  // namespace mayfly::der
