// mayfly-agent run makes each pass in a child process: between passes the
// long-lived agent's memory holds none of the private keys it wrote, and a
// pass that dies is one failed pass, retried, not a dead agent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <vector>

#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "support/ca_fixture.h"
#include "support/wait.h"

namespace mayfly {
namespace pass_child_test {

using testing::kAgentBinary;
using testing::WaitUntil;

constexpr unsigned long kLargestRegion = 256UL << 20;

// The writable memory of `pid` (heap, stacks, anonymous and data mappings):
// where a process keeps anything it has read or computed.
std::string WritableMemory(pid_t pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  int mem = open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY);
  EXPECT_GE(mem, 0) << "cannot open /proc/" << pid << "/mem";
  std::string out, line;
  while (std::getline(maps, line)) {
    unsigned long begin = 0, end = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &begin, &end, perms) != 3 || perms[0] != 'r' || perms[1] != 'w') {
      continue;
    }
    // Terabytes of reserved, never-touched address space (a sanitizer's
    // shadow memory) hold no keys; the agent's own heap is a few MiB.
    if (end - begin > kLargestRegion) continue;
    std::string region(end - begin, '\0');
    ssize_t n = pread(mem, region.data(), region.size(), static_cast<off_t>(begin));
    if (n > 0) out.append(region, 0, static_cast<size_t>(n));
  }
  if (mem >= 0) close(mem);
  return out;
}

// The forms a key takes in memory: its PEM file, and its private scalar in
// big-endian bytes (DER, OpenSSL's encoders) and reversed (BIGNUM limbs on a
// little-endian machine).
std::vector<std::string> KeyForms(const std::string& key_file) {
  std::vector<std::string> forms;
  const std::string pem = ReadFile(key_file).value_or("");
  EXPECT_FALSE(pem.empty()) << key_file;
  forms.push_back(pem.substr(pem.find('\n') + 1, 64));  // the first line of base64
  auto key = LoadKeyFile(key_file);
  EXPECT_TRUE(key) << key_file;
  if (!key) return forms;
  BIGNUM* priv = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key->get(), OSSL_PKEY_PARAM_PRIV_KEY, &priv), 1);
  std::string scalar(32, '\0');
  BN_bn2binpad(priv, reinterpret_cast<unsigned char*>(scalar.data()), 32);
  BN_clear_free(priv);
  forms.push_back(scalar);
  std::reverse(scalar.begin(), scalar.end());
  forms.push_back(scalar);
  return forms;
}

// Which of `forms` occur in `memory`, by index.
std::vector<size_t> Found(const std::string& memory, const std::vector<std::string>& forms) {
  std::vector<size_t> found;
  for (size_t i = 0; i < forms.size(); ++i) {
    if (memory.find(forms[i]) != std::string::npos) found.push_back(i);
  }
  return found;
}

// Running, not a zombie.
bool Alive(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat").value_or("");
  size_t close_paren = stat.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < stat.size() && stat[close_paren + 2] != 'Z';
}

bool HasChildren(pid_t pid) {
  std::string children = ReadFile("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children")
                             .value_or("x");
  return children.find_first_not_of(" \n") != std::string::npos;
}

class PassChildTest : public ::testing::Test {
 protected:
  void StartAgent(const std::string& workloads) {
    ca_.Init("[[entry]]\nspiffe_id = \"spiffe://example.org/web\"\nnode = \"node-1\"\n"
             "[[entry]]\nspiffe_id = \"spiffe://example.org/api\"\nnode = \"node-1\"\n");
    ca_.Start();
    const std::string fingerprint = ca_.WriteToken("node-1", ca_.Path("token"));
    testing::WriteTextFile(ca_.Path("agent.toml"), ca_.AgentTomlHead(fingerprint) + workloads);
    agent_ = testing::ChildProcess::Start({kAgentBinary, "run", "--config", ca_.Path("agent.toml")});
    ASSERT_TRUE(agent_);
  }
  std::string Workload(const std::string& name, const std::string& extra = "") {
    return "[[workload]]\nspiffe_id = \"spiffe://example.org/" + name + "\"\ncert = \"" + ca_.Path(name + ".pem") +
           "\"\nkey = \"" + ca_.Path(name + ".key") + "\"\n" + extra;
  }

  testing::CaFixture ca_;
  std::unique_ptr<testing::ChildProcess> agent_;
};

TEST_F(PassChildTest, TheIdleAgentHoldsNoPrivateKey) {
  StartAgent(Workload("web") + Workload("api"));
  ASSERT_TRUE(agent_->WaitForLineContaining("renewed spiffe://example.org/api")) << agent_->output();
  // The pass is over once its status file is written and its process is gone.
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(ca_.Path("agent/status.json")).has_value(); }));
  ASSERT_TRUE(WaitUntil([&] { return !HasChildren(agent_->pid()); })) << "the pass process never ended";

  std::vector<std::string> forms;
  for (const char* key : {"web.key", "api.key", "agent/node.key"}) {
    for (auto& f : KeyForms(ca_.Path(key))) forms.push_back(std::move(f));
  }
  ASSERT_EQ(forms.size(), 9u);
  // The scan sees a key where one is: a shell that has read the web key.
  auto holder = testing::ChildProcess::Start(
      {"/bin/sh", "-c", "key=$(cat " + ca_.Path("web.key") + "); echo held; sleep 60"});
  ASSERT_TRUE(holder && holder->WaitForLine("held"));
  EXPECT_EQ(Found(WritableMemory(holder->pid()), forms), std::vector<size_t>{0}) << "the scan misses a held key";

  std::string agent_memory = WritableMemory(agent_->pid());
  ASSERT_GT(agent_memory.size(), 100000u);
  EXPECT_TRUE(Found(agent_memory, forms).empty()) << "the idle agent holds key material";
  EXPECT_EQ(agent_->Stop(SIGTERM), 0) << agent_->output();
}

TEST_F(PassChildTest, APassThatDiesIsRetriedAndTheAgentLives) {
  // The hook kills the pass process that runs it (its parent): the certificate
  // is written, the pass never reports back.
  StartAgent(Workload("web", "on_renew = \"kill -9 $PPID\"\n"));
  auto died = agent_->WaitForLineContaining("the pass process was killed by signal 9");
  ASSERT_TRUE(died) << agent_->output();
  // The next pass finds the certificate in place and finishes: status written.
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(ca_.Path("agent/status.json")).has_value(); },
                        std::chrono::seconds(15)))
      << agent_->output();
  auto status = testing::RunCommand(kAgentBinary + " status --config " + ca_.Path("agent.toml"));
  EXPECT_EQ(status.status, 0) << status.output;
  EXPECT_NE(status.output.find("spiffe://example.org/web"), std::string::npos) << status.output;
  EXPECT_TRUE(Alive(agent_->pid())) << agent_->output();
  EXPECT_EQ(agent_->Stop(SIGTERM), 0) << agent_->output();
}

}  // namespace pass_child_test
}  // namespace mayfly
