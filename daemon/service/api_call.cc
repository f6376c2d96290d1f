// Answering an API call: timing, refusal accounting and audit.
#include "api_call.h"

#include <spdlog/spdlog.h>

#include "api_json.h"

namespace mayfly {

ApiCall::ApiCall(CaRuntime& runtime, net::HttpRequest req, net::Respond respond)
    : rt(runtime), request(std::move(req)), respond_(std::move(respond)), start_(std::chrono::steady_clock::now()) {}

void ApiCall::Reply(net::HttpResponse response) {
  if (answered_.exchange(true)) return;
  if (request.peer.listener != net::Listener::kMetrics) {
    rt.metrics().ObserveLatency(std::chrono::steady_clock::now() - start_);
  }
  respond_(std::move(response));
}

void ApiCall::ReplyJson(int status, const boost::json::value& body) { Reply(JsonResponse(status, body)); }

void ApiCall::Refuse(const Error& error, std::string subject, int retry_after) {
  rt.metrics().CountRefused(error.code);
  // The store not answering is logged once per change of state
  // (StoreFollower), not once per request.
  if (HttpStatusFor(error.code) >= 500 && error.code != ErrorCode::kUnavailable) {
    spdlog::error("{}: {}", route, error.ToString());
  }
  rt.audit().Record(AuditEvent{
      .time = NowSeconds(rt),
      .type = "refused",
      .actor = actor,
      .subject = subject.empty() ? route : std::move(subject),
      .result = std::string(ErrorCodeName(error.code)),
      .detail = AuditDetail({{"route", route}, {"message", error.message}}),
  });
  Reply(ErrorResponse(error, retry_after));
}

}  // namespace mayfly
