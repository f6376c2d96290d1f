// The limit for a new mTLS connection per request: bare TLS 1.3 handshakes
// with client certificates, both ends in this process over memory BIOs
// (as mayfly-load and the daemon share this machine's cores), P-256 leaves
// under a P-256 intermediate and root, full handshakes (no resumption).
#include <benchmark/benchmark.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <memory>
#include <string>

#include "mayfly/ca_certs.h"
#include "mayfly/issuer.h"
#include "mayfly/keys.h"
#include "mayfly/public_key.h"
#include "mayfly/x509_util.h"
#include "rate_reporter.h"

namespace mayfly {
namespace {

using CtxPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
using SslPtr = std::unique_ptr<SSL, decltype(&SSL_free)>;

struct Endpoint {
  OsslPtr<EVP_PKEY> key;
  OsslPtr<X509> leaf;
};

// A root, an intermediate, a server and a client leaf; two contexts that
// verify each other the way the daemon and its agents do: the server sends
// its intermediate, the client its leaf alone; the server trusts the
// intermediate as an anchor (it chains to the root it trusts), the client
// trusts the root; neither rebuilds its chain per handshake.
struct Pki {
  CtxPtr server{nullptr, SSL_CTX_free};
  CtxPtr client{nullptr, SSL_CTX_free};

  static Pki& Get() {
    static Pki pki = Make();
    return pki;
  }

  static Endpoint Leaf(const Issuer& issuer, const std::string& id, std::vector<IpAddress> ips) {
    Endpoint e{GenerateKey(KeyType::kEcdsaP256).value(), nullptr};
    auto spki = PublicKeyOf(e.key.get()).value();
    LeafSpec spec{.public_key = &spki, .spiffe_id = id, .ips = std::move(ips), .ttl = std::chrono::hours(1)};
    e.leaf = CertFromDer(issuer.Issue(spec).value().der).value();
    return e;
  }

  static CtxPtr Context(const SSL_METHOD* method, const Endpoint& self, const X509* inter, const X509* root,
                        bool server) {
    CtxPtr ctx(SSL_CTX_new(method), SSL_CTX_free);
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx.get(), 0);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_use_certificate(ctx.get(), self.leaf.get());
    SSL_CTX_use_PrivateKey(ctx.get(), self.key.get());
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_NO_AUTO_CHAIN);
    X509_STORE* trust = SSL_CTX_get_cert_store(ctx.get());
    X509_STORE_add_cert(trust, const_cast<X509*>(root));
    if (server) {
      SSL_CTX_add1_chain_cert(ctx.get(), const_cast<X509*>(inter));
      X509_STORE_add_cert(trust, const_cast<X509*>(inter));
      X509_STORE_set_flags(trust, X509_V_FLAG_PARTIAL_CHAIN);
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    return ctx;
  }

  static Pki Make() {
    const Clock& clock = SystemClock::Instance();
    auto root_key = GenerateKey(KeyType::kEcdsaP256).value();
    auto int_key = GenerateKey(KeyType::kEcdsaP256).value();
    auto root = MakeRootCert(root_key.get(), "example.org", std::chrono::hours(24 * 365), clock).value();
    auto inter = MakeIntermediateCert(int_key.get(), root.get(), root_key.get(), {true, "example.org", {}, {}},
                                      std::chrono::hours(24 * 30), clock)
                     .value();
    OsslPtr<X509> inter_copy(X509_dup(inter.get()));
    auto issuer = Issuer::Create(std::move(inter), std::move(int_key), {}, clock).value();
    Endpoint server = Leaf(*issuer, "spiffe://example.org/mayfly/ca", {ParseIpAddress("127.0.0.1").value()});
    Endpoint client = Leaf(*issuer, "spiffe://example.org/mayfly/node/bench", {});
    Pki pki;
    pki.server = Context(TLS_server_method(), server, inter_copy.get(), root.get(), true);
    pki.client = Context(TLS_client_method(), client, inter_copy.get(), root.get(), false);
    return pki;
  }
};

// One full handshake: both state machines stepped until each is done.
bool Handshake(const Pki& pki) {
  SslPtr server(SSL_new(pki.server.get()), SSL_free);
  SslPtr client(SSL_new(pki.client.get()), SSL_free);
  BIO* server_io = nullptr;
  BIO* client_io = nullptr;
  if (!server || !client || BIO_new_bio_pair(&server_io, 0, &client_io, 0) != 1) return false;
  SSL_set_bio(server.get(), server_io, server_io);
  SSL_set_bio(client.get(), client_io, client_io);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());
  SSL_set1_host(client.get(), "127.0.0.1");
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 20 && !(client_done && server_done); ++round) {
    if (!client_done) {
      const int r = SSL_do_handshake(client.get());
      if (r == 1) client_done = true;
      else if (SSL_get_error(client.get(), r) != SSL_ERROR_WANT_READ) return false;
    }
    if (!server_done) {
      const int r = SSL_do_handshake(server.get());
      if (r == 1) server_done = true;
      else if (SSL_get_error(server.get(), r) != SSL_ERROR_WANT_READ) return false;
    }
  }
  return client_done && server_done && SSL_get_verify_result(server.get()) == X509_V_OK &&
         SSL_get_verify_result(client.get()) == X509_V_OK;
}

void BM_TlsMutualHandshake(benchmark::State& state) {
  const Pki& pki = Pki::Get();
  for (auto _ : state) {
    if (!Handshake(pki)) {
      ERR_print_errors_fp(stderr);
      state.SkipWithError("handshake failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TlsMutualHandshake)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_TlsMutualHandshake)->UseRealTime()->MinTime(2.0)->Threads(2);

}  // namespace
}  // namespace mayfly

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  mayfly::RateReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  // Machine-readable lines for bench/run.sh.
  const std::string name = "BM_TlsMutualHandshake/min_time:2.000/real_time";
  std::printf("\nbare TLS 1.3 mutual handshakes, 1 thread %12.0f handshakes/s\n", reporter.Rate(name));
  std::printf("bare TLS 1.3 mutual handshakes, 2 threads %11.0f handshakes/s\n", reporter.Rate(name + "/threads:2"));
  benchmark::Shutdown();
  return 0;
}
