// PeerInfo's client identity, derived once per connection.
#include "mayfly/net/http_types.h"

#include "mayfly/x509_util.h"

namespace mayfly::net {
namespace {

// Another owner of the same certificate (null for null or on failure).
OsslPtr<X509> ShareCert(const OsslPtr<X509>& cert) {
  if (!cert || X509_up_ref(cert.get()) != 1) return nullptr;
  return OsslPtr<X509>(cert.get());
}

}  // namespace

void PeerInfo::SetClientCert(OsslPtr<X509> cert, std::string issuer_key_id) {
  client_spiffe_id = cert ? CertSpiffeId(cert.get()) : std::string();
  client_issuer_key_id = cert ? std::move(issuer_key_id) : std::string();
  client_cert = std::move(cert);
}

PeerInfo PeerInfo::Share() const {
  PeerInfo copy;
  copy.listener = listener;
  copy.ip = ip;
  copy.client_cert = ShareCert(client_cert);
  if (copy.client_cert) {
    copy.client_spiffe_id = client_spiffe_id;
    copy.client_issuer_key_id = client_issuer_key_id;
  }
  copy.recovery_cert = ShareCert(recovery_cert);
  return copy;
}

}  // namespace mayfly::net
