// IPv4/IPv6 addresses and CIDR ranges, parsed and printed by inet_pton/inet_ntop.
#include <arpa/inet.h>

#include <charconv>
#include <string>
#include <string_view>

#include "mayfly/identity.h"

namespace mayfly {
namespace {

constexpr size_t kIpv4Bytes = 4;
constexpr size_t kIpv6Bytes = 16;

// Whether the first prefix_len bits of a and b (of equal size) agree.
bool SamePrefix(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                int prefix_len) {
  const size_t full = static_cast<size_t>(prefix_len) / 8;
  for (size_t i = 0; i < full; ++i) {
    if (a[i] != b[i]) return false;
  }
  const int rem = prefix_len % 8;
  if (rem == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rem));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

Result<IpAddress> ParseIpAddress(std::string_view text) {
  auto fail = [&](std::string_view rule) {
    return InvalidInputError(ErrorCode::kInvalidName, "IP address", text, rule);
  };
  if (text.empty()) return fail("is empty");
  // inet_pton reads a C string: an embedded NUL would hide whatever follows.
  if (text.find('\0') != std::string_view::npos) return fail("contains a NUL byte");
  // A zone ("fe80::1%eth0") names an interface of one host; it has no
  // meaning in a certificate, and inet_pton would refuse it less clearly.
  if (text.find('%') != std::string_view::npos) {
    return fail("zone identifiers ('%') are not allowed");
  }
  if (text.size() >= INET6_ADDRSTRLEN) return fail("is too long");
  const std::string copy(text);
  IpAddress ip;
  if (copy.find(':') != std::string::npos) {
    ip.bytes.resize(kIpv6Bytes);
    if (inet_pton(AF_INET6, copy.c_str(), ip.bytes.data()) != 1) {
      return fail("is not a valid IPv6 address");
    }
  } else {
    ip.bytes.resize(kIpv4Bytes);
    if (inet_pton(AF_INET, copy.c_str(), ip.bytes.data()) != 1) {
      return fail("is not a valid IPv4 address (dotted quad, no leading zeros)");
    }
  }
  return ip;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const int family = bytes.size() == kIpv4Bytes   ? AF_INET
                     : bytes.size() == kIpv6Bytes ? AF_INET6
                                                  : AF_UNSPEC;
  if (family == AF_UNSPEC || inet_ntop(family, bytes.data(), buf, sizeof buf) == nullptr) {
    return "<invalid address of " + std::to_string(bytes.size()) + " bytes>";
  }
  return buf;
}

Result<Cidr> ParseCidr(std::string_view text) {
  auto fail = [&](std::string_view rule) {
    return InvalidInputError(ErrorCode::kInvalidName, "CIDR", text, rule);
  };
  const size_t slash = text.find('/');
  auto base = ParseIpAddress(text.substr(0, slash));
  if (!base) return fail(base.error().message);
  const int max_len = static_cast<int>(base->bytes.size() * 8);
  Cidr cidr{std::move(*base), max_len};
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    // Plain decimal only: from_chars alone would take "-1", "08" or stop at
    // "8x", turning a typo into a different range.
    const bool plain = !digits.empty() && digits.size() <= 3 &&
                       digits.find_first_not_of("0123456789") == std::string_view::npos &&
                       (digits.size() == 1 || digits[0] != '0');
    if (!plain) return fail("prefix length must be a decimal number without leading zeros");
    int len = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (len > max_len) {
      return fail("prefix length must be at most " + std::to_string(max_len));
    }
    cidr.prefix_len = len;
  }
  // Clear the host bits so that equal ranges compare and print equal.
  for (size_t i = 0; i < cidr.base.bytes.size(); ++i) {
    const int bits_before = static_cast<int>(i) * 8;
    if (bits_before >= cidr.prefix_len) {
      cidr.base.bytes[i] = 0;
    } else if (cidr.prefix_len - bits_before < 8) {
      cidr.base.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (cidr.prefix_len - bits_before)));
    }
  }
  return cidr;
}

bool Cidr::Contains(const IpAddress& ip) const {
  return ip.bytes.size() == base.bytes.size() && SamePrefix(ip.bytes, base.bytes, prefix_len);
}

std::string Cidr::ToString() const { return base.ToString() + "/" + std::to_string(prefix_len); }

}  // namespace mayfly
