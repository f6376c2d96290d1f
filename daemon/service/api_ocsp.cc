// The OCSP routes: RFC 6960 over HTTP (its appendix A), answered from the
// responder's cache.
#include <algorithm>

#include "api_routes.h"
#include "mayfly/net/query.h"

namespace mayfly {
namespace {

constexpr std::string_view kOcspResponseType = "application/ocsp-response";

void ReplyOcsp(const CallPtr& call, const OcspAnswer& answer, bool cacheable) {
  net::HttpResponse response{.status = 200, .content_type = std::string(kOcspResponseType), .body = *answer.der};
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(answer.next_update - call->rt.clock().Now());
  if (cacheable && left.count() > 0) {
    // RFC 5019 section 6: caches may keep a response until its nextUpdate.
    response.headers.emplace_back("Cache-Control", "max-age=" + std::to_string(left.count()) +
                                                       ", public, no-transform, must-revalidate");
  } else {
    response.headers.emplace_back("Cache-Control", "no-cache");
  }
  call->Reply(std::move(response));
}

}  // namespace

void HandleOcspPost(const CallPtr& call) {
  ReplyOcsp(call, call->rt.ocsp().Respond(call->request.body), false);
}

void HandleOcspGet(const CallPtr& call) {
  constexpr std::string_view kPrefix = "/ocsp/";
  const std::string_view encoded = std::string_view(call->request.path).substr(kPrefix.size());
  // '+' is a literal plus in a path, not a space.
  auto base64 = net::PercentDecode(encoded, false);
  auto der = base64 ? DecodeBase64(*base64) : Result<std::string>(std::unexpected(base64.error()));
  if (!der) return ReplyOcsp(call, call->rt.ocsp().Malformed(), false);
  const OcspAnswer answer = call->rt.ocsp().Respond(*der);
  const bool signed_answer = answer.outcome == OcspOutcome::kGood || answer.outcome == OcspOutcome::kRevoked ||
                             answer.outcome == OcspOutcome::kUnknown;
  ReplyOcsp(call, answer, signed_answer);
}

}  // namespace mayfly
