// nginx verifying client certificates by OCSP alone (ssl_ocsp on, no
// ssl_crl, no OCSP cache) against the real daemon's plain OCSP listener:
// the daemon's admin certificate gets in, then is refused once revoked.
// nginx asks about every certificate of the chain, the intermediate under
// the root included.
#include <gtest/gtest.h>

#include <chrono>

#include "support/ca_fixture.h"
#include "support/nginx.h"
#include "support/wait.h"

namespace mayfly {
namespace ocsp_nginx_test {

using testing::RunCommand;

TEST(OcspNginxTest, ClientCertificateAcceptedThenRefusedAfterRevocation) {
  testing::CaFixture ca;
  ca.Init("[ocsp]\nlisten = \"127.0.0.1:0\"\n");
  ca.Start();
  const std::string out = ca.daemon()->output();
  const size_t at = out.find("ocsp=127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string port = out.substr(at + 15, out.find_first_not_of("0123456789", at + 15) - at - 15);

  // nginx's own server certificate: any will do, curl does not check it.
  auto server = RunCommand("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
                           "-subj /CN=localhost -keyout " + ca.Path("server.key") + " -out " +
                           ca.Path("server.pem") + " 2>&1");
  ASSERT_EQ(server.status, 0) << server.output;
  testing::NginxFiles files{.cert = ca.Path("server.pem"), .key = ca.Path("server.key"),
                            .bundle = ca.Path("ca/root.pem"), .crl = "",
                            .ocsp_responder = "http://127.0.0.1:" + port + "/ocsp"};
  std::string error;
  auto nginx = testing::Nginx::Start(ca.Path(""), files, error);
  ASSERT_TRUE(nginx) << error;

  // admin.pem is the leaf and its intermediate: nginx gets the whole chain.
  const std::string curl = "curl -sk -o /dev/null -w '%{http_code}' --cert " + ca.Path("ca/admin.pem") +
                           " --key " + ca.Path("ca/admin.key") + " " + nginx->url();
  auto ok = RunCommand(curl);
  EXPECT_EQ(ok.output, "200") << nginx->error_log();

  auto serial = RunCommand("openssl x509 -noout -serial -in " + ca.Path("ca/admin.pem"));
  std::string hex = serial.output.substr(serial.output.find('=') + 1);
  hex.erase(hex.find_last_not_of("\r\n") + 1);
  auto revoke = ca.Cli("revoke --serial " + hex);
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  std::string status;
  EXPECT_TRUE(testing::WaitUntil([&] {
    status = RunCommand(curl).output;
    return status == "400";  // nginx: "The SSL certificate error"
  })) << status << "\n" << nginx->error_log();
  EXPECT_NE(nginx->error_log().find("revoked"), std::string::npos) << nginx->error_log();
  nginx.reset();
  ca.Stop();
}

}  // namespace ocsp_nginx_test
}  // namespace mayfly
