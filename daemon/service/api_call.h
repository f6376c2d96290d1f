// One API call in flight: the request, who made it, and the one way to
// answer it (which times it, and audits and counts every refusal).
#pragma once

#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "ca_runtime.h"
#include "mayfly/error.h"
#include "mayfly/net/http_types.h"

namespace mayfly {

// Shared so an answer given later (after a group commit) keeps it alive.
class ApiCall {
 public:
  ApiCall(CaRuntime& runtime, net::HttpRequest request, net::Respond respond);

  CaRuntime& rt;
  const net::HttpRequest request;
  std::string route;        // "POST /v1/sign", for audit and logs
  // Who called: the client certificate's SPIFFE ID, "admin-socket", or the
  // client IP for anonymous calls.
  std::string actor;
  std::string caller_name;    // the node or admin name once authenticated
  std::string caller_serial;  // its client certificate's serial ("" without one)
  // That certificate (owned by request.peer; null without one).
  const X509* caller_cert = nullptr;

  // Sends `response` (once; later calls are ignored).
  void Reply(net::HttpResponse response);
  void ReplyJson(int status, const boost::json::value& body);
  // Sends the error body, counts it and records a "refused" audit event
  // about `subject` (default: the route) with the error code as result.
  void Refuse(const Error& error, std::string subject = "", int retry_after = 0);

 private:
  net::Respond respond_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<bool> answered_{false};
};

using CallPtr = std::shared_ptr<ApiCall>;

// Now, in the store's unit.
inline int64_t NowSeconds(const CaRuntime& rt) { return ToUnixSeconds(rt.clock().Now()); }

}  // namespace mayfly
