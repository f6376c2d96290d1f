// A real mayfly-ca daemon in a temporary directory, for integration tests of
// the agent: init, serve on a free port, the admin CLI, stop and restart.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "support/child_process.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mayfly::testing {

inline const std::string kCaBinary = std::string(MAYFLY_BINARY_DIR) + "/daemon/mayfly-ca";
inline const std::string kAgentBinary = std::string(MAYFLY_BINARY_DIR) + "/agent/mayfly-agent";

class CaFixture {
 public:
  // Writes ca.toml (trust domain example.org, these extra TOML lines, e.g.
  // [issuance] and [[entry]] tables) and runs `mayfly-ca init`.
  void Init(const std::string& extra_toml) {
    WriteTextFile(Path("ca.toml"), "trust_domain = \"example.org\"\n"
                                   "state_dir = \"" + Path("ca") + "\"\n"
                                   "listen = \"127.0.0.1:0\"\n"
                                   "metrics_listen = \"127.0.0.1:0\"\n"
                                   "admin_socket = \"" + Path("admin.sock") + "\"\n"
                                   "server_names = [\"localhost\", \"127.0.0.1\"]\n"
                                   "[ca]\nkey_passphrase_file = \"" + Path("pass") + "\"\n" + extra_toml);
    auto init = RunCommand(kCaBinary + " init --config " + Path("ca.toml"));
    ASSERT_EQ(init.status, 0) << init.output;
  }

  // Starts `mayfly-ca serve` and waits for its ready line; sets api() and
  // metrics_url().
  void Start() {
    daemon_ = ChildProcess::Start({kCaBinary, "serve", "--config", Path("ca.toml")});
    ASSERT_TRUE(daemon_);
    auto ready = daemon_->WaitForLine("ready ");
    ASSERT_TRUE(ready) << daemon_->output();
    size_t at = ready->find("api=127.0.0.1:") + 14;
    api_ = "https://127.0.0.1:" + ready->substr(at, ready->find(' ', at) - at);
    at = ready->find("metrics=127.0.0.1:") + 18;
    metrics_url_ = "http://127.0.0.1:" + ready->substr(at, ready->find(' ', at) - at);
  }

  void Stop() {
    if (daemon_) {
      EXPECT_EQ(daemon_->Stop(SIGTERM), 0) << daemon_->output();
    }
    daemon_.reset();
  }

  CommandResult Cli(const std::string& args) {
    return RunCommand(kCaBinary + " --config " + Path("ca.toml") + " " + args);
  }

  // A fresh join token for `node`, written to `file`; returns the root's
  // fingerprint ("sha256:...").
  std::string WriteToken(const std::string& node, const std::string& file) {
    auto r = Cli("--json token create --node " + node);
    EXPECT_EQ(r.status, 0) << r.output;
    boost::system::error_code ec;
    auto v = boost::json::parse(r.output, ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "token create: " << r.output;
      return "";
    }
    WriteTextFile(file, std::string(v.as_object().at("token").as_string()) + "\n");
    return std::string(v.as_object().at("ca_fingerprint").as_string());
  }

  // The top of an agent.toml for this CA: the join token in "token", state
  // in "agent", the CRL and bundle published into "out".
  std::string AgentTomlHead(const std::string& fingerprint) const {
    return "server = \"" + api_ + "\"\n"
           "ca_fingerprint = \"" + fingerprint + "\"\n"
           "join_token_file = \"" + Path("token") + "\"\n"
           "state_dir = \"" + Path("agent") + "\"\n"
           "crl_path = \"" + Path("out/crl.pem") + "\"\n"
           "bundle_path = \"" + Path("out/bundle.pem") + "\"\n";
  }

  std::string Path(const std::string& name) const { return dir_.File(name); }
  const std::string& api() const { return api_; }
  const std::string& metrics_url() const { return metrics_url_; }
  ChildProcess* daemon() { return daemon_.get(); }

  // One series of the daemon's /metrics ("name{label=\"v\"}"), read with
  // curl; -1 when absent.
  int64_t Metric(const std::string& series) const {
    auto r = RunCommand("curl -s " + metrics_url_ + "/metrics");
    const size_t at = r.output.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stoll(r.output.substr(at + series.size() + 2));
  }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> daemon_;
  std::string api_;
  std::string metrics_url_;
};

}  // namespace mayfly::testing
