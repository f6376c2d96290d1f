// CSR parsing and checking, then the authorization of what it asks for:
// the path every /v1/sign and /v1/enroll body takes.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "mayfly/authorization.h"
#include "mayfly/csr.h"
#include "mayfly/identity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mayfly;
  auto csr = Csr::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!csr) return 0;
  static const std::vector<EntryRecord> entries = {
      EntryRecord{.id = 1, .spiffe_id = "spiffe://example.org/web", .node = "node-*", .dns = {"web.internal"}},
      EntryRecord{.id = 2, .spiffe_id = "spiffe://example.org/api", .node = "node-1"}};
  const AuthzPolicy policy{.trust_domain = "example.org"};
  for (const std::string& uri : csr->uri_names()) {
    auto id = SpiffeId::Parse(uri);
    if (!id) continue;
    SignRequest request{.spiffe_id = *id, .dns = csr->dns_names(), .ips = csr->ip_names()};
    (void)AuthorizeSign(Caller{.kind = Caller::Kind::kNode, .name = "node-1"}, request, entries, policy);
  }
  for (const std::string& dns : csr->dns_names()) (void)NormalizeDnsName(dns);
  return 0;
}
