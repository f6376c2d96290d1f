// The CA's HTTP API (docs/api.md) as one handler, behind any listener.
#pragma once

#include "ca_runtime.h"
#include "mayfly/net/http_types.h"

namespace mayfly {

// Routes each request, enforces the caller its route declares (anyone, a
// node certificate, an admin certificate or the admin socket), and answers.
// Thread-safe; holds no state of its own beyond a reference to the runtime,
// which must outlive it (and every pending answer).
class ApiService {
 public:
  explicit ApiService(CaRuntime& runtime) : runtime_(runtime) {}

  // Answers every request exactly once, possibly later from another thread
  // (sign and renew answer once the certificate is durable). Never throws.
  void Handle(net::HttpRequest request, net::Respond respond);

  // Handle as a net::Handler.
  net::Handler AsHandler() {
    return [this](net::HttpRequest request, net::Respond respond) {
      Handle(std::move(request), std::move(respond));
    };
  }

 private:
  CaRuntime& runtime_;
};

}  // namespace mayfly
