// The SPIFFE Workload API of `mayfly-agent run` against a real mayfly-ca,
// called by workload_api_probe (a gRPC client process): X.509-SVIDs for a
// caller the selectors match, the required header, a caller no entry
// matches, a renewal, a root rotation and a CRL-forced replacement reaching
// an open stream, no identity key on disk, and the socket's creation.
#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/x509_util.h"
#include "support/ca_fixture.h"
#include "support/wait.h"

namespace mayfly {
namespace workload_api_test {

const std::string kProbe = std::string(MAYFLY_BINARY_DIR) + "/tests/workload_api_probe";
constexpr const char* kSpiffeId = "spiffe://example.org/wl/test";

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// One "svid" line of the probe.
struct SvidLine {
  std::string spiffe_id;
  std::string chain_der;
  std::string key_der;
  std::string bundle_der;
};

std::optional<SvidLine> ParseSvid(const std::string& line) {
  std::istringstream in(line);
  std::string tag, id, chain, key, bundle;
  if (!(in >> tag >> id >> chain >> key >> bundle) || tag != "svid") return std::nullopt;
  return SvidLine{id, Unhex(chain), Unhex(key), Unhex(bundle)};
}

std::vector<SvidLine> SvidsIn(const std::string& output) {
  std::vector<SvidLine> svids;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (auto s = ParseSvid(line)) svids.push_back(*s);
  }
  return svids;
}

// How many certificates a concatenation of DER certificates holds (the
// bundle of an X509SVID).
int CertsInDer(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* end = p + der.size();
  int n = 0;
  while (p < end) {
    OsslPtr<X509> cert(d2i_X509(nullptr, &p, end - p));
    if (!cert) return -1;
    ++n;
  }
  return n;
}

std::string StatusIn(const std::string& output) {
  size_t at = output.rfind("status ");
  return at == std::string::npos ? "" : output.substr(at + 7, output.find('\n', at) - at - 7);
}

// A socket file nobody listens on, as an agent killed with SIGKILL leaves.
void LeaveStaleSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
}

class WorkloadApiTest : public ::testing::Test {
 protected:
  // A CA whose entry for node-1 names this test's uid, and an agent
  // serving the Workload API for it.
  void StartAll(const std::string& entry_ttl = "1m") {
    ca_.Init("[issuance]\nmin_ttl = \"10s\"\ndefault_ttl = \"1m\"\nbackdate = \"1s\"\n"
             "[[entry]]\nspiffe_id = \"" + std::string(kSpiffeId) + "\"\nnode = \"node-1\"\nttl = \"" + entry_ttl +
             "\"\nselectors = [\"unix:uid:" + std::to_string(getuid()) + "\"]\n"
             "[[entry]]\nspiffe_id = \"spiffe://example.org/wl/other\"\nnode = \"node-1\"\n"
             "selectors = [\"unix:uid:4242\"]\n");
    ca_.Start();
    fingerprint_ = ca_.WriteToken("node-1", ca_.Path("token"));
    socket_ = ca_.Path("agent.sock");
    LeaveStaleSocket(socket_);
    testing::WriteTextFile(ca_.Path("agent.toml"), ca_.AgentTomlHead(fingerprint_) +
                                                       "workload_api_socket = \"" + socket_ + "\"\n"
                                                       "refresh = \"2s\"\n");
    agent_ = testing::ChildProcess::Start({testing::kAgentBinary, "run", "--config", ca_.Path("agent.toml")});
    ASSERT_TRUE(agent_);
    ASSERT_TRUE(agent_->WaitForLineContaining("workload API: issued " + std::string(kSpiffeId)))
        << agent_->output();
    // That line comes as the SVID is issued, a moment before the agent
    // publishes it with the node's entries; the first X.509 message waits
    // for the publication, so after it every call is answered from it.
    auto served = Probe("x509svid");
    ASSERT_EQ(StatusIn(served.output), "0 ") << served.output << agent_->output();
  }

  void TearDown() override {
    if (agent_) {
      EXPECT_EQ(agent_->Stop(SIGTERM, std::chrono::seconds(10)), 0) << agent_->output();
    }
    ca_.Stop();
  }

  testing::CommandResult Probe(const std::string& args) {
    return testing::RunCommand(kProbe + " " + socket_ + " " + args + " 2>&1");
  }

  testing::CaFixture ca_;
  std::unique_ptr<testing::ChildProcess> agent_;
  std::string socket_;
  std::string fingerprint_;  // of the CA's root
};

TEST_F(WorkloadApiTest, AMatchingCallerGetsItsSvidAndNoKeyIsOnDisk) {
  StartAll();
  struct stat st{};
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);

  auto r = Probe("x509svid");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(StatusIn(r.output), "0 ") << r.output;
  auto svids = SvidsIn(r.output);
  ASSERT_EQ(svids.size(), 1u) << r.output << agent_->output();
  EXPECT_EQ(svids[0].spiffe_id, kSpiffeId);
  auto leaf = CertFromDer(svids[0].chain_der);
  ASSERT_TRUE(leaf) << leaf.error().message;
  EXPECT_EQ(CertSpiffeId(leaf->get()), kSpiffeId);
  const auto* key_bytes = reinterpret_cast<const unsigned char*>(svids[0].key_der.data());
  OsslPtr<EVP_PKEY> key(d2i_AutoPrivateKey(nullptr, &key_bytes, static_cast<long>(svids[0].key_der.size())));
  ASSERT_TRUE(key) << "x509_svid_key is not a DER private key";
  EXPECT_EQ(X509_check_private_key(leaf->get(), key.get()), 1) << "the key does not match the SVID";
  // The bundle is the CA's root, which issued the chain.
  auto root = CertFromDer(svids[0].bundle_der);
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(CertFingerprint(root->get()).value_or(""), fingerprint_);

  // The key is in the agent's memory only: not in any file of its state.
  auto pem = PrivateKeyToPem(key.get());
  ASSERT_TRUE(pem);
  const std::string pem_body = pem->substr(pem->find('\n') + 1, 64);
  for (const auto& file : std::filesystem::recursive_directory_iterator(ca_.Path("agent"))) {
    if (!file.is_regular_file()) continue;
    const std::string text = ReadFile(file.path().string()).value_or("");
    EXPECT_EQ(text.find(svids[0].key_der), std::string::npos) << file.path() << " holds the SVID key (DER)";
    EXPECT_EQ(text.find(pem_body), std::string::npos) << file.path() << " holds the SVID key (PEM)";
  }
  EXPECT_EQ(agent_->output().find(pem_body), std::string::npos) << "the SVID key was logged";

  auto bundles = Probe("bundles");
  EXPECT_NE(bundles.output.find("bundle spiffe://example.org "), std::string::npos) << bundles.output;
}

// A JWT-SVID over the socket: validated by PyJWT against the JWT bundle the
// agent streams, and by the agent's ValidateJWTSVID; refused for another
// audience; cached (the same token twice); and none without an audience or
// for a caller no entry matches.
TEST_F(WorkloadApiTest, AJwtSvidFromTheSocketValidatesWithPyJwtAndThroughTheAgent) {
  ASSERT_EQ(getuid(), 0u) << "calling as another user needs root";
  StartAll();
  auto fetched = Probe("jwtsvid --audience billing");
  ASSERT_EQ(StatusIn(fetched.output), "0 ") << fetched.output << agent_->output();
  const std::string prefix = "jwt " + std::string(kSpiffeId) + " ";
  const size_t at = fetched.output.find(prefix);
  ASSERT_NE(at, std::string::npos) << fetched.output;
  const std::string token = fetched.output.substr(at + prefix.size(), fetched.output.find('\n', at) - at - prefix.size());
  auto again = Probe("jwtsvid --audience billing");
  EXPECT_NE(again.output.find(prefix + token + "\n"), std::string::npos) << "cached until half its life";

  auto bundles = Probe("jwtbundles");
  const std::string bundle_prefix = "jwtbundle spiffe://example.org ";
  const size_t b = bundles.output.find(bundle_prefix);
  ASSERT_NE(b, std::string::npos) << bundles.output;
  testing::WriteTextFile(ca_.Path("jwks.json"), bundles.output.substr(b + bundle_prefix.size(),
                                                                      bundles.output.find('\n', b) - b -
                                                                          bundle_prefix.size()));
  testing::WriteTextFile(ca_.Path("jwt"), token);
  const std::string pyjwt = "/usr/bin/python3 " + std::string(MAYFLY_SOURCE_DIR) + "/tests/support/jwt_validate.py " +
                            ca_.Path("jwks.json") + " " + ca_.Path("jwt");
  auto valid = testing::RunCommand(pyjwt + " billing");
  EXPECT_EQ(valid.status, 0) << valid.output;
  EXPECT_NE(valid.output.find("valid " + std::string(kSpiffeId)), std::string::npos) << valid.output;
  EXPECT_NE(testing::RunCommand(pyjwt + " payments").status, 0);

  auto checked = Probe("validate --audience billing --token " + token);
  EXPECT_EQ(StatusIn(checked.output), "0 ") << checked.output;
  EXPECT_NE(checked.output.find("valid " + std::string(kSpiffeId) + " billing"), std::string::npos) << checked.output;
  auto other = Probe("validate --audience payments --token " + token);
  EXPECT_EQ(StatusIn(other.output).substr(0, 2), "3 ") << other.output;  // INVALID_ARGUMENT
  EXPECT_NE(other.output.find("audience"), std::string::npos) << other.output;
  std::string forged = token;
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(StatusIn(Probe("validate --audience billing --token " + forged).output).substr(0, 2), "3 ");

  auto no_audience = Probe("jwtsvid --audience ''");
  EXPECT_EQ(StatusIn(no_audience.output), "3 audience must be specified") << no_audience.output;
  ASSERT_EQ(chmod(std::filesystem::path(socket_).parent_path().c_str(), 0711), 0);
  auto stranger = Probe("jwtsvid --audience billing --uid 65534");
  EXPECT_EQ(StatusIn(stranger.output), "7 no identity issued") << stranger.output;
  EXPECT_EQ(stranger.output.find("jwt "), std::string::npos);
}

TEST_F(WorkloadApiTest, ACallWithoutTheHeaderIsInvalid) {
  StartAll();
  auto r = Probe("x509svid --no-header");
  EXPECT_EQ(StatusIn(r.output), "3 security header missing from request") << r.output;  // INVALID_ARGUMENT
  EXPECT_TRUE(SvidsIn(r.output).empty());
}

TEST_F(WorkloadApiTest, ACallerNoEntryMatchesIsDenied) {
  ASSERT_EQ(getuid(), 0u) << "calling as another user needs root";
  StartAll();
  // Another user must reach the socket: let it through the test directory.
  ASSERT_EQ(chmod(std::filesystem::path(socket_).parent_path().c_str(), 0711), 0);
  auto r = Probe("x509svid --uid 65534");
  EXPECT_EQ(StatusIn(r.output), "7 no identity issued") << r.output;  // PERMISSION_DENIED
  EXPECT_TRUE(SvidsIn(r.output).empty());
}

TEST_F(WorkloadApiTest, ARenewalReachesAnOpenStream) {
  // 20 s SVIDs (1 s backdate): renewed after about 10 s.
  StartAll("20s");
  // Messages also come for a new CRL or bundle: read on to the new serial.
  auto stream = testing::ChildProcess::Start({kProbe, socket_, "x509svid", "--messages", "20", "--timeout", "40"});
  ASSERT_TRUE(stream);
  auto first = stream->WaitForLine("svid ");
  ASSERT_TRUE(first) << stream->output();
  auto a = ParseSvid(*first);
  ASSERT_TRUE(a);
  auto leaf_a = CertFromDer(a->chain_der);
  ASSERT_TRUE(leaf_a);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(35);
  OsslPtr<X509> renewed;
  while (!renewed && std::chrono::steady_clock::now() < deadline) {
    auto line = stream->WaitForLine("svid ", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 deadline - std::chrono::steady_clock::now()));
    if (!line) break;
    auto b = ParseSvid(*line);
    ASSERT_TRUE(b);
    auto leaf_b = CertFromDer(b->chain_der);
    ASSERT_TRUE(leaf_b);
    if (CertSerialHex(leaf_b->get()) != CertSerialHex(leaf_a->get())) renewed = std::move(*leaf_b);
  }
  ASSERT_TRUE(renewed) << stream->output() << agent_->output();
  EXPECT_EQ(CertSpiffeId(renewed.get()), kSpiffeId);
  EXPECT_LT(SystemClock::Instance().Now(), CertNotAfter(leaf_a->get())) << "renewed only after expiry";
  EXPECT_TRUE(agent_->WaitForLineContaining("(due) serial=" + CertSerialHex(renewed.get()), std::chrono::seconds(5)))
      << agent_->output();
}

TEST_F(WorkloadApiTest, ARootRotationReachesAnOpenStreamWithinSeconds) {
  StartAll();
  auto stream = testing::ChildProcess::Start({kProbe, socket_, "x509svid", "--messages", "20", "--timeout", "30"});
  ASSERT_TRUE(stream);
  auto first = stream->WaitForLine("svid ");
  ASSERT_TRUE(first) << stream->output();
  ASSERT_EQ(CertsInDer(ParseSvid(*first).value_or(SvidLine{}).bundle_der), 1) << *first;
  auto prepared = ca_.Cli("ca prepare --root");
  ASSERT_EQ(prepared.status, 0) << prepared.output;
  // The agent's next pass (refresh = 2 s) trusts the new root; from then the
  // stream says so within a second (a half-second file poll) on a quiet
  // machine. The test allows two seconds: under the sanitizers with the
  // suite running in parallel one second was missed once.
  ASSERT_TRUE(agent_->WaitForLineContaining("trusted roots updated", std::chrono::seconds(15))) << agent_->output();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  int roots = 1;
  while (roots != 2 && std::chrono::steady_clock::now() < deadline) {
    auto line = stream->WaitForLine("svid ", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 deadline - std::chrono::steady_clock::now()));
    if (!line) break;
    roots = CertsInDer(ParseSvid(*line).value_or(SvidLine{}).bundle_der);
  }
  EXPECT_EQ(roots, 2) << stream->output() << agent_->output();
}

TEST_F(WorkloadApiTest, AnSvidTheCrlListsIsReplacedOnTheOpenStream) {
  StartAll();
  auto stream = testing::ChildProcess::Start({kProbe, socket_, "x509svid", "--messages", "20", "--timeout", "30"});
  ASSERT_TRUE(stream);
  auto first = stream->WaitForLine("svid ");
  ASSERT_TRUE(first) << stream->output();
  auto leaf = CertFromDer(ParseSvid(*first).value_or(SvidLine{}).chain_der);
  ASSERT_TRUE(leaf);
  const std::string serial = CertSerialHex(leaf->get());
  auto revoke = ca_.Cli("revoke --serial " + serial);
  ASSERT_EQ(revoke.status, 0) << revoke.output;
  // The next pass (refresh = 2 s) fetches the CRL; the Workload API sees it
  // in state_dir and replaces the SVID at once.
  ASSERT_TRUE(agent_->WaitForLineContaining("(listed in the CRL) serial=", std::chrono::seconds(15)))
      << agent_->output();
  bool replaced = false;
  while (!replaced) {
    auto line = stream->WaitForLine("svid ", std::chrono::seconds(5));
    if (!line) break;
    auto next = CertFromDer(ParseSvid(*line).value_or(SvidLine{}).chain_der);
    ASSERT_TRUE(next);
    replaced = CertSerialHex(next->get()) != serial;
  }
  EXPECT_TRUE(replaced) << stream->output();
}

TEST(WorkloadApiSocketTest, AnUncreatableSocketStopsRunWithAClearError) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("agent.toml"),
                         "server = \"https://127.0.0.1:1\"\n"
                         "ca_fingerprint = \"sha256:" + std::string(64, '0') + "\"\n"
                         "state_dir = \"" + dir.File("state") + "\"\n"
                         "workload_api_socket = \"" + dir.File("missing/agent.sock") + "\"\n");
  auto r = testing::RunCommand(testing::kAgentBinary + " run --config " + dir.File("agent.toml") + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("mayfly-agent: workload_api_socket " + dir.File("missing/agent.sock") +
                          ": cannot create the socket: "),
            std::string::npos)
      << r.output;

  testing::WriteTextFile(dir.File("not-a-socket"), "x");
  testing::WriteTextFile(dir.File("agent.toml"),
                         "server = \"https://127.0.0.1:1\"\n"
                         "ca_fingerprint = \"sha256:" + std::string(64, '0') + "\"\n"
                         "state_dir = \"" + dir.File("state") + "\"\n"
                         "workload_api_socket = \"" + dir.File("not-a-socket") + "\"\n");
  r = testing::RunCommand(testing::kAgentBinary + " run --config " + dir.File("agent.toml") + " 2>&1");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("exists and is not a socket"), std::string::npos) << r.output;
  EXPECT_EQ(ReadFile(dir.File("not-a-socket")).value_or(""), "x") << "a file that is not a socket is left alone";
}

}  // namespace workload_api_test
}  // namespace mayfly
