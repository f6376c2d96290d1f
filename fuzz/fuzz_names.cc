// SPIFFE IDs, DNS names, IP addresses, CIDRs, node-name globs and durations:
// every name a request, an entry or a config file can carry.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mayfly/config.h"
#include "mayfly/identity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mayfly;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto id = SpiffeId::Parse(text)) {
    // A parsed ID prints back to itself.
    if (SpiffeId::Parse(id->ToString())->ToString() != id->ToString()) __builtin_trap();
    (void)ClassifyId(*id);
  }
  (void)ValidateTrustDomain(text);
  (void)ValidateNodeName(text);
  (void)NormalizeDnsName(text, true);
  if (auto ip = ParseIpAddress(text)) {
    if (ParseIpAddress(ip->ToString()).value() != *ip) __builtin_trap();
  }
  if (auto cidr = ParseCidr(text)) (void)cidr->Contains(cidr->base);
  (void)ParseDuration(text);
  (void)QuoteForMessage(text, 64);
  // The first half is the pattern, the second the name.
  (void)GlobMatch(text.substr(0, size / 2), text.substr(size / 2));
  return 0;
}
