// PeerInfo's client identity, derived once per connection.
#include "mayfly/net/http_types.h"

#include "mayfly/x509_util.h"

namespace mayfly::net {

void PeerInfo::SetClientCert(OsslPtr<X509> cert) {
  client_spiffe_id = cert ? CertSpiffeId(cert.get()) : std::string();
  client_cert = std::move(cert);
}

PeerInfo PeerInfo::Share() const {
  PeerInfo copy;
  copy.listener = listener;
  copy.ip = ip;
  if (client_cert && X509_up_ref(client_cert.get()) == 1) {
    copy.client_cert.reset(client_cert.get());
    copy.client_spiffe_id = client_spiffe_id;
  }
  return copy;
}

}  // namespace mayfly::net
