// The router's caller check: every route walked with no certificate, the
// wrong kind of certificate, a revoked one, and on the wrong listener.
#include <gtest/gtest.h>

#include "api_fixture.h"
#include "api_routes.h"

namespace mayfly::testing {
namespace api_auth_test {

// A concrete path for a route: prefix routes get an id appended.
std::string PathOf(const Route& route) {
  return std::string(route.path) + (route.path.ends_with('/') ? "7" : "");
}

class ApiAuthTest : public ApiTest {
 protected:
  // A workload certificate: neither a node nor an admin.
  std::string WorkloadCertPem(const TestNode& node) {
    auto r = Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"}));
    EXPECT_EQ(r.status, 200) << r.body;
    return Str(Json(r), "certificate");
  }
};

TEST_F(ApiAuthTest, EveryProtectedRouteRefusesTheWrongCaller) {
  TestNode node = Enroll("web-1");
  const std::string workload = WorkloadCertPem(node);
  const auto before = Snapshot();
  int checked = 0;
  for (const Route& route : ApiRoutes()) {
    if (route.caller != CallerClass::kNode && route.caller != CallerClass::kAdmin) continue;
    ++checked;
    const std::string method(route.method);
    const std::string path = PathOf(route);
    const std::string what = method + " " + path;
    auto r = Send(method, path, "{}", Anonymous());
    EXPECT_EQ(r.status, 401) << what << " without a certificate";
    EXPECT_EQ(ErrorCodeOf(r), "unauthenticated") << what;

    r = Send(method, path, "{}", WithCert(workload));
    EXPECT_EQ(r.status, 403) << what << " with a workload certificate";
    EXPECT_EQ(ErrorCodeOf(r), "forbidden") << what;

    r = Send(method, path, "{}", Metrics());
    EXPECT_EQ(r.status, 404) << what << " on the metrics listener";

    if (route.caller == CallerClass::kAdmin) {
      r = Send(method, path, "{}", AsNode(node));
      EXPECT_EQ(r.status, 403) << what << " with a node certificate";
      EXPECT_EQ(ErrorCodeOf(r), "forbidden") << what;
    } else {
      r = Send(method, path, "{}", Admin());
      EXPECT_EQ(r.status, 403) << what << " with an admin certificate";
      r = Send(method, path, "{}", AdminSocket());
      EXPECT_EQ(r.status, 401) << what << " on the admin socket";
    }
  }
  EXPECT_GE(checked, 16) << "the route table lost its protected routes";
  EXPECT_EQ(Snapshot(), before);
}

// The public routes answer without any certificate, and only on the API
// listener; the local ones only on the metrics listener.
TEST_F(ApiAuthTest, PublicAndLocalRoutesAreWhereTheyBelong) {
  for (const Route& route : ApiRoutes()) {
    const std::string method(route.method);
    const std::string path = PathOf(route);
    if (route.caller == CallerClass::kAnyone) {
      auto r = Send(method, path, "{}", Anonymous());
      EXPECT_NE(r.status, 401) << method << " " << path;
      EXPECT_NE(r.status, 403) << method << " " << path;
      EXPECT_EQ(Send(method, path, "{}", Metrics()).status, 404) << method << " " << path;
    } else if (route.caller == CallerClass::kLocal) {
      EXPECT_EQ(Send(method, path, "", Metrics()).status, 200) << path;
      EXPECT_EQ(Send(method, path, "", Admin()).status, 404) << path;
    }
  }
}

TEST_F(ApiAuthTest, RefusalsAreAudited) {
  auto r = Send("POST", "/v1/admin/revoke", "{}", Anonymous("198.51.100.7"));
  ASSERT_EQ(r.status, 401);
  rt_->audit().Flush();
  auto events = rt_->store().ListAudit(0, 1, std::nullopt).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "refused");
  EXPECT_EQ(events[0].result, "unauthenticated");
  EXPECT_EQ(events[0].actor, "198.51.100.7");
  EXPECT_EQ(events[0].subject, "POST /v1/admin/revoke");
}

TEST_F(ApiAuthTest, RevokedAdminCertificateIsUnauthenticated) {
  auto admin = CertFromPem(ReadFile(CaPaths::For(config_.state_dir).admin_cert).value()).value();
  auto r = Post("/v1/admin/revoke", {{"serial", CertSerialHex(admin.get())}}, AdminSocket());
  ASSERT_EQ(r.status, 200) << r.body;
  r = Send("GET", "/v1/admin/entries", "", Admin());
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("certificate revoked"), std::string::npos);
  // The admin socket still works.
  EXPECT_EQ(Send("GET", "/v1/admin/entries", "", AdminSocket()).status, 200);
}

TEST_F(ApiAuthTest, RevocationsSurviveARestart) {
  TestNode node = Enroll("web-1");
  TestNode db = Enroll("db-1");
  ASSERT_EQ(Post("/v1/admin/revoke", {{"node", "web-1"}}, AdminSocket()).status, 200);
  ASSERT_EQ(Post("/v1/admin/revoke", {{"serial", db.serial}}, AdminSocket()).status, 200);
  Stop();
  Start();
  EXPECT_EQ(Sign(node, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/web"})).status, 403);
  EXPECT_EQ(Sign(db, Csr(NewKey().get(), {"spiffe://example.org/ns/prod/db"})).status, 401);
}

TEST_F(ApiAuthTest, UnknownRoutesAndMethods) {
  auto r = Send("GET", "/v1/nothing", "", Admin());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCodeOf(r), "not_found");
  r = Send("GET", "/v1/sign", "", Anonymous());
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "POST");
  r = Send("PUT", "/v1/admin/entries", "", AdminSocket());
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET, POST, DELETE");
  EXPECT_EQ(Send("GET", "/healthz", "", Anonymous()).status, 404) << "health is on the metrics listener only";
  EXPECT_EQ(Send("GET", "/v1/admin/entries/", "", AdminSocket()).status, 404);
}

TEST_F(ApiAuthTest, MetricsListenerServesOnlyHealth) {
  auto r = Send("GET", "/healthz", "", Metrics());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  for (const char* path : {"/v1/bundle", "/v1/crl", "/v1/enroll", "/metrics/x"}) {
    EXPECT_EQ(Send("GET", path, "", Metrics()).status, 404) << path;
  }
}

TEST_F(ApiAuthTest, OversizedBodyIsRefused) {
  const auto before = Snapshot();
  auto r = Send("POST", "/v1/enroll", std::string(config_.limits.max_body + 1, ' '), Anonymous());
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ErrorCodeOf(r), "too_large");
  EXPECT_EQ(Snapshot(), before);
}

}  // namespace api_auth_test
}  // namespace mayfly::testing
