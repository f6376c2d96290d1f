// A real TLS ClientHello, for tests that play a client stalling in the
// middle of its handshake: the bytes OpenSSL's client sends first.
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace mayfly::testing {

// What a default OpenSSL client writes to start a handshake with `host`
// (its SNI): one record holding the ClientHello. Empty if OpenSSL fails.
inline std::string ClientHelloBytes(const std::string& host = "localhost") {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return "";
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (!ssl || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    return "";
  }
  SSL_set_bio(ssl.get(), in, out);  // the SSL owns both BIOs from here
  SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  SSL_set_connect_state(ssl.get());
  SSL_do_handshake(ssl.get());  // wants to read the ServerHello: stops here
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : "";
}

// The first half of it: a handshake the server can only wait on.
inline std::string PartialClientHello() {
  const std::string hello = ClientHelloBytes();
  return hello.substr(0, hello.size() / 2);
}

}  // namespace mayfly::testing
