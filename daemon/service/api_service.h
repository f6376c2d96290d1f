// The CA's HTTP API (docs/api.md) as one handler, behind any listener.
#pragma once

#include "ca_runtime.h"
#include "mayfly/net/http_types.h"
#include "store_worker.h"

namespace mayfly {

// Routes each request, enforces the caller its route declares (anyone, a
// node certificate, an admin certificate or the admin socket), and answers.
// Thread-safe; holds no state of its own beyond references to the runtime
// and the store worker that runs its store-bound routes (api_routes.h's
// RunsOn). The runtime must outlive both and every pending answer; destroy
// the worker (which runs what it has queued) before the runtime.
class ApiService {
 public:
  ApiService(CaRuntime& runtime, StoreWorker& store_worker) : runtime_(runtime), store_worker_(store_worker) {}

  // Answers every request exactly once, possibly later from another thread
  // (sign and renew once the certificate is durable; the store-bound
  // routes from the store worker). Never throws.
  void Handle(net::HttpRequest request, net::Respond respond);

  // Handle as a net::Handler.
  net::Handler AsHandler() {
    return [this](net::HttpRequest request, net::Respond respond) {
      Handle(std::move(request), std::move(respond));
    };
  }

 private:
  CaRuntime& runtime_;
  StoreWorker& store_worker_;
};

}  // namespace mayfly
