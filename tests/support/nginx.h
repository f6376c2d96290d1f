// A real nginx terminating mutual TLS with files Mayfly wrote: the way a
// service uses the agent's certificate, bundle and CRL.
#pragma once

#include <memory>
#include <string>

#include "support/child_process.h"

namespace mayfly::testing {

struct NginxFiles {
  std::string cert;    // leaf + chain (PEM)
  std::string key;
  std::string bundle;  // trusted roots for client certificates
  std::string crl;     // every CRL of the chain (ssl_crl); empty: none
  // When set: ssl_ocsp on, asking this responder (no ssl_ocsp_cache).
  std::string ocsp_responder;
};

// The files the agent tests publish into <dir>/out: web.pem, web.key,
// bundle.pem and crl.pem.
inline NginxFiles AgentOutFiles(const std::string& dir) {
  return {dir + "/out/web.pem", dir + "/out/web.key", dir + "/out/bundle.pem", dir + "/out/crl.pem"};
}

class Nginx {
 public:
  // Writes nginx.conf into `dir` and starts nginx in the foreground on a free
  // 127.0.0.1 port; returns once it accepts connections (null on failure, the
  // reason in `error`). Every request answers 200 "verified <subject DN>".
  static std::unique_ptr<Nginx> Start(const std::string& dir, const NginxFiles& files, std::string& error);
  ~Nginx();  // fast shutdown of the master and its workers

  // SIGHUP: nginx re-reads its configuration, certificates and CRL.
  void Reload();
  int port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/"; }
  std::string error_log() const;

 private:
  Nginx() = default;
  std::unique_ptr<ChildProcess> process_;
  std::string dir_;
  int port_ = 0;
};

// A TCP port on 127.0.0.1 that nothing listens on at the time of the call.
int FreeLocalPort();

}  // namespace mayfly::testing
