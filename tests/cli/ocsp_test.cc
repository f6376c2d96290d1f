// The real daemon's OCSP responder, asked by `openssl ocsp` and curl over its
// plain [ocsp] listener and its TLS listener: good, revoked (within a
// second of `mayfly-ca revoke`), unknown, unauthorized, malformed, the
// intermediate's own status under the root, GET and POST, every signed
// answer verified against the root alone, and no signing per request.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "mayfly/file_util.h"
#include "support/ca_fixture.h"
#include "support/wait.h"

namespace mayfly {
namespace ocsp_test {

using testing::RunCommand;

class OcspTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_.Init("[ocsp]\nlisten = \"127.0.0.1:0\"\nvalidity = \"1h\"\n");
    ca_.Start();
    const std::string out = ca_.daemon()->output();
    const size_t at = out.find("ocsp=127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << out;
    const size_t port_at = at + 15;
    ocsp_url_ = "http://127.0.0.1:" + out.substr(port_at, out.find_first_not_of("0123456789", port_at) - port_at) +
                "/ocsp";
  }
  void TearDown() override { ca_.Stop(); }

  std::string File(const std::string& name) const { return ca_.Path(name); }

  // `openssl ocsp` against `url`, verifying the answer against the root
  // only (no -noverify); `what` is "-cert FILE" or "-serial 0x..".
  std::string Ask(const std::string& issuer, const std::string& what, const std::string& url,
                  const std::string& extra = "") {
    auto r = RunCommand("openssl ocsp -issuer " + File(issuer) + " " + what + " -url " + url + " -CAfile " +
                        File("ca/root.pem") + " " + extra + " 2>&1");
    return r.output;
  }

  // Parses a DER OCSP response file, verified against the root.
  std::string ReadResponse(const std::string& file, const std::string& cert) {
    return RunCommand("openssl ocsp -respin " + File(file) + " -issuer " + File("ca/intermediate.pem") +
                      " -cert " + File(cert) + " -CAfile " + File("ca/root.pem") + " 2>&1")
        .output;
  }

  int64_t Metric(const std::string& series) { return ca_.Metric(series); }

  std::string AdminSerial() {
    auto r = RunCommand("openssl x509 -noout -serial -in " + File("ca/admin.pem"));
    std::string hex = r.output.substr(r.output.find('=') + 1);
    hex.erase(hex.find_last_not_of("\r\n") + 1);
    return hex;
  }

  testing::CaFixture ca_;
  std::string ocsp_url_;
};

TEST_F(OcspTest, GoodThenRevokedWithinASecondOverPlainHttp) {
  const std::string cert = "-cert " + File("ca/admin.pem");
  std::string out = Ask("ca/intermediate.pem", cert, ocsp_url_);
  EXPECT_NE(out.find("Response verify OK"), std::string::npos) << out;
  EXPECT_NE(out.find("admin.pem: good"), std::string::npos) << out;
  // The nonce is not echoed (docs/ocsp.md): openssl warns and accepts.
  EXPECT_NE(out.find("WARNING: no nonce in response"), std::string::npos) << out;

  auto revoke = ca_.Cli("revoke --serial " + AdminSerial() + " --reason keyCompromise");
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        out = Ask("ca/intermediate.pem", cert, ocsp_url_);
        return out.find("admin.pem: revoked") != std::string::npos;
      },
      std::chrono::seconds(1)))
      << out;
  EXPECT_NE(out.find("Response verify OK"), std::string::npos) << out;
  EXPECT_NE(out.find("Reason: keyCompromise"), std::string::npos) << out;
  EXPECT_EQ(Metric("mayfly_ocsp_responses_total{status=\"revoked\"}"), 1);
}

TEST_F(OcspTest, RepeatedRequestsAreServedWithoutSigning) {
  const std::string cert = "-cert " + File("ca/admin.pem");
  ASSERT_NE(Ask("ca/intermediate.pem", cert, ocsp_url_).find("admin.pem: good"), std::string::npos);
  const int64_t signatures = Metric("mayfly_ocsp_signatures_total");
  ASSERT_GE(signatures, 2u);  // the responder certificate and one response
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(Ask("ca/intermediate.pem", cert, ocsp_url_, i % 2 ? "-no_nonce" : "").find("admin.pem: good"),
              std::string::npos);
  }
  EXPECT_EQ(Metric("mayfly_ocsp_signatures_total"), signatures);
  EXPECT_EQ(Metric("mayfly_ocsp_responses_total{status=\"good\"}"), 6);
}

TEST_F(OcspTest, IntermediateUnderTheRootUnknownUnauthorizedAndMalformed) {
  std::string out = Ask("ca/root.pem", "-cert " + File("ca/intermediate.pem"), ocsp_url_);
  EXPECT_NE(out.find("Response verify OK"), std::string::npos) << out;
  EXPECT_NE(out.find("intermediate.pem: good"), std::string::npos) << out;

  out = Ask("ca/intermediate.pem", "-serial 0x1234", ocsp_url_);
  EXPECT_NE(out.find("Response verify OK"), std::string::npos) << out;
  EXPECT_NE(out.find("0x1234: unknown"), std::string::npos) << out;

  // An issuer that is not ours: the admin certificate as "issuer".
  out = Ask("ca/admin.pem", "-serial 0x1", ocsp_url_);
  EXPECT_NE(out.find("unauthorized"), std::string::npos) << out;

  testing::WriteTextFile(File("junk.der"), "not an OCSP request");
  auto r = RunCommand("curl -s -o " + File("junk-resp.der") + " -H 'Content-Type: application/ocsp-request' " +
                      "--data-binary @" + File("junk.der") + " " + ocsp_url_);
  ASSERT_EQ(r.status, 0) << r.output;
  out = ReadResponse("junk-resp.der", "ca/admin.pem");
  EXPECT_NE(out.find("malformedrequest"), std::string::npos) << out;
  EXPECT_EQ(Metric("mayfly_ocsp_responses_total{status=\"malformed\"}"), 1);
  EXPECT_EQ(Metric("mayfly_ocsp_responses_total{status=\"unauthorized\"}"), 1);
}

TEST_F(OcspTest, GetAndPostOnTheTlsListener) {
  auto req = RunCommand("openssl ocsp -issuer " + File("ca/intermediate.pem") + " -cert " + File("ca/admin.pem") +
                        " -no_nonce -reqout " + File("req.der") + " 2>&1");
  ASSERT_EQ(req.status, 0) << req.output;
  const std::string tls = "curl -s --cacert " + File("ca/root.pem") + " ";

  auto post = RunCommand(tls + "-o " + File("post.der") + " -H 'Content-Type: application/ocsp-request' " +
                         "--data-binary @" + File("req.der") + " " + ca_.api() + "/ocsp");
  ASSERT_EQ(post.status, 0) << post.output;
  std::string out = ReadResponse("post.der", "ca/admin.pem");
  EXPECT_NE(out.find("Response verify OK"), std::string::npos) << out;
  EXPECT_NE(out.find("admin.pem: good"), std::string::npos) << out;

  // RFC 6960 appendix A: the URL-encoded base64 DER after the path.
  auto encoded = RunCommand("base64 -w0 " + File("req.der") +
                            " | python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.stdin.read(),safe=\"\"),end=\"\")'");
  ASSERT_EQ(encoded.status, 0);
  for (const std::string& base : {ca_.api(), ocsp_url_.substr(0, ocsp_url_.size() - 5)}) {
    auto get = RunCommand(tls + "-D - -o " + File("get.der") + " " + base + "/ocsp/" + encoded.output);
    ASSERT_EQ(get.status, 0) << get.output;
    EXPECT_NE(get.output.find("Content-Type: application/ocsp-response"), std::string::npos) << get.output;
    EXPECT_NE(get.output.find("Cache-Control: max-age="), std::string::npos) << get.output;
    out = ReadResponse("get.der", "ca/admin.pem");
    EXPECT_NE(out.find("Response verify OK"), std::string::npos) << base << ": " << out;
    EXPECT_NE(out.find("admin.pem: good"), std::string::npos) << base << ": " << out;
  }
}

}  // namespace ocsp_test
}  // namespace mayfly
