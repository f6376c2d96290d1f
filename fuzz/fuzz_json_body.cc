// The API's JSON request bodies: the strict parser and every accessor the
// routes call, with every member name the routes allow.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mayfly/net/json_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mayfly;
  auto body = net::JsonBody::Parse(std::string_view(reinterpret_cast<const char*>(data), size),
                              {"token", "csr", "ttl", "node", "spiffe_id", "dns", "ips", "serial", "reason"});
  if (!body) return 0;
  for (std::string_view name : {"token", "csr", "ttl", "node", "spiffe_id", "serial", "reason"}) {
    (void)body->Has(name);
    (void)body->String(name);
    (void)body->OptionalString(name);
  }
  (void)body->StringArray("dns");
  (void)body->StringArray("ips");
  return 0;
}
