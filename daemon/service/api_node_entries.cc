// GET /v1/node/entries: the selector entries a node's agent serves to its
// workloads. The agent polls it, so it answers If-None-Match with 304.
#include <boost/json.hpp>

#include "api_routes.h"
#include "crl_publisher.h"
#include "mayfly/config.h"
#include "mayfly/identity.h"

namespace mayfly {

void HandleNodeEntries(const CallPtr& call) {
  const AuthzPolicy& policy = call->rt.policy();
  boost::json::array entries;
  for (const EntryRecord& e : *call->rt.entries().Get()) {
    // Entries without selectors are for /v1/sign only: no workload can match them.
    if (e.selectors.empty() || !GlobMatch(e.node, call->caller_name)) continue;
    // The effective maximum: an entry without its own follows [issuance] max_ttl.
    const Duration ttl = e.max_ttl > 0 ? Duration(e.max_ttl) : policy.max_ttl;
    entries.push_back(boost::json::object{{"id", e.id},
                                          {"spiffe_id", e.spiffe_id},
                                          {"selectors", boost::json::array(e.selectors.begin(), e.selectors.end())},
                                          {"dns", boost::json::array(e.dns.begin(), e.dns.end())},
                                          {"ips", boost::json::array(e.ips.begin(), e.ips.end())},
                                          {"ttl", FormatDuration(ttl)}});
  }
  const std::string body = boost::json::serialize(boost::json::object{{"entries", std::move(entries)}});
  ReplyConditional(call, body, EntityTag(body), "application/json");
}

}  // namespace mayfly
