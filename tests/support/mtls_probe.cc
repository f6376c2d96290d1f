// The rotating-certificates client of rotation tests, on plain OpenSSL.
#include "support/mtls_probe.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <memory>

#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/ossl_ptr.h"
#include "mayfly/x509_util.h"

namespace mayfly::testing {
namespace {

std::string OpensslReason(const std::string& what) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  char buf[256] = "no OpenSSL error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  return what + ": " + buf;
}

// The cert and key files as one matching pair. The agent replaces them one
// after the other, so a reader can see a new cert with the old key for a
// moment: read again, as a service reloading on a signal would.
bool ReadPair(const MtlsProbeFiles& files, std::string& cert_pem, OsslPtr<EVP_PKEY>& key) {
  for (int i = 0; i < 100; ++i) {
    auto cert_text = ReadFile(files.cert);
    auto key_text = ReadFile(files.key);
    if (cert_text && key_text) {
      auto cert = CertFromPem(*cert_text);
      auto k = PrivateKeyFromPem(*key_text);
      if (cert && k && KeysMatch(X509_get0_pubkey(cert->get()), k->get())) {
        cert_pem = std::move(*cert_text);
        key = std::move(*k);
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

}  // namespace

MtlsProbe::MtlsProbe(int port, MtlsProbeFiles files) : port_(port), files_(std::move(files)) {
  thread_ = std::thread([this] { Loop(); });
}

MtlsProbe::~MtlsProbe() { Stop(); }

void MtlsProbe::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> MtlsProbe::failure_reasons() const {
  std::lock_guard lock(mu_);
  return reasons_;
}

bool MtlsProbe::AwaitMore(int n) const {
  const int target = attempts_.load() + n;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (attempts_.load() < target) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void MtlsProbe::Loop() {
  while (!stop_) {
    std::string why = TryOnce(port_, files_);
    ++attempts_;
    if (!why.empty()) {
      ++failures_;
      std::lock_guard lock(mu_);
      if (reasons_.size() < 10) reasons_.push_back(why);
    }
    // A steady trickle, not a flood: rotation, not load, is under test.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string MtlsProbe::TryOnce(int port, const MtlsProbeFiles& files) {
  std::string cert_pem;
  OsslPtr<EVP_PKEY> key;
  if (!ReadPair(files, cert_pem, key)) return "no matching certificate and key in " + files.cert;
  auto chain = CertsFromPem(cert_pem);
  auto roots = CertsFromPem(ReadFile(files.bundle).value_or(""));
  if (!chain || !roots) return "unreadable certificate or bundle";

  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return OpensslReason("SSL_CTX_new");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  for (auto& root : *roots) X509_STORE_add_cert(store, root.get());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_use_certificate(ctx.get(), (*chain)[0].get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1) {
    return OpensslReason("loading the client certificate");
  }
  for (size_t i = 1; i < chain->size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx.get(), (*chain)[i].get()) != 1) return OpensslReason("adding the chain");
  }
  const std::string target = "127.0.0.1:" + std::to_string(port);
  OsslPtr<BIO> bio(BIO_new_ssl_connect(ctx.get()));
  if (!bio) return OpensslReason("BIO_new_ssl_connect");
  BIO_set_conn_hostname(bio.get(), target.c_str());
  SSL* ssl = nullptr;
  BIO_get_ssl(bio.get(), &ssl);
  SSL_set1_host(ssl, "127.0.0.1");
  if (BIO_do_connect(bio.get()) <= 0 || BIO_do_handshake(bio.get()) <= 0) {
    const long verify = SSL_get_verify_result(ssl);
    return OpensslReason("handshake (server verify: " +
                         std::string(X509_verify_cert_error_string(verify)) + ")");
  }
  const std::string request = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (BIO_write(bio.get(), request.data(), static_cast<int>(request.size())) <= 0) {
    return OpensslReason("sending the request");
  }
  std::string response;
  char buf[1024];
  int n = 0;
  while ((n = BIO_read(bio.get(), buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
  ERR_clear_error();
  if (response.rfind("HTTP/1.1 200", 0) != 0) {
    return "answer: " + response.substr(0, response.find('\n'));
  }
  return "";
}

}  // namespace mayfly::testing
