// Many callers at once, in-process: nodes signing while an operator bans one
// of them and rotates the CA, with readers fetching the CRL, the bundle and
// listings all along. CI also runs this suite under ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "api_fixture.h"
#include "support/wait.h"

namespace mayfly::testing {
namespace concurrency_test {

class ConcurrencyTest : public ApiTest {
 protected:
  void Customize(CaConfig& config) override {
    config.ca.auto_rotate = false;
    config.limits.sign_per_node_per_minute = 100000;
  }

  // What one signing caller got back.
  struct Answers {
    std::vector<std::string> serials;  // 200
    std::vector<std::string> chains;   // certificate + chain of each 200
    std::vector<std::string> refusals;  // "status body" of anything else
    net::HttpResponse last;
  };

  void SignOnce(const TestNode& node, Answers& out) {
    auto key = NewKey();
    auto r = Sign(node, Csr(key.get(), {"spiffe://example.org/ns/prod/web"}));
    out.last = r;
    if (r.status != 200) {
      out.refusals.push_back(std::to_string(r.status) + " " + r.body);
      return;
    }
    auto body = Json(r);
    out.serials.push_back(Str(body, "serial"));
    out.chains.push_back(Str(body, "certificate") + Str(body, "chain"));
  }
};

// The invariants a demanding operator relies on when everything happens at
// once: every answered certificate is durable and verifies; every
// certificate the banned node got (before or during the ban) is revoked and
// on the CRL, and it gets none after; nothing else is refused; the audit
// chain stays intact.
TEST_F(ConcurrencyTest, SigningWhileANodeIsBannedAndTheCaRotatesLosesNothing) {
  constexpr int kSigners = 3;
  constexpr int kSignsEach = 20;
  std::vector<TestNode> nodes;
  for (int i = 0; i < kSigners; ++i) nodes.push_back(Enroll("web-" + std::to_string(i)));
  const TestNode victim = Enroll("web-victim");
  const std::string roots = rt_->ca()->bundle_pem;

  std::vector<Answers> answers(kSigners);
  Answers victim_answers;
  std::atomic<int> victim_signed{0};
  std::atomic<bool> done_admin{false};
  std::mutex problems_mu;
  std::vector<std::string> problems;
  auto problem = [&](std::string what) {
    std::lock_guard lock(problems_mu);
    problems.push_back(std::move(what));
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < kSigners; ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < kSignsEach; ++n) SignOnce(nodes[i], answers[i]);
    });
  }
  // The victim signs until it is refused (bounded, in case it never is).
  threads.emplace_back([&] {
    for (int n = 0; n < 1000; ++n) {
      SignOnce(victim, victim_answers);
      if (victim_answers.last.status != 200) break;
      ++victim_signed;
    }
  });
  // The operator: ban the victim once it has some certificates, then rotate twice.
  threads.emplace_back([&] {
    if (!WaitUntil([&] { return victim_signed >= 3; }, std::chrono::seconds(60), std::chrono::milliseconds(1))) {
      problem("the victim never got three certificates");
    }
    auto r = Post("/v1/admin/revoke", {{"node", victim.name}}, AdminSocket());
    if (r.status != 200) problem("revoke: " + std::to_string(r.status) + " " + r.body);
    for (int n = 0; n < 2; ++n) {
      r = Post("/v1/admin/ca/rotate", {{"now", true}}, AdminSocket());
      if (r.status != 200) problem("rotate: " + std::to_string(r.status) + " " + r.body);
    }
    done_admin = true;
  });
  // Readers, all along.
  threads.emplace_back([&] {
    do {
      for (const char* path : {"/v1/crl", "/v1/bundle", "/v1/intermediates"}) {
        auto r = Send("GET", path, "", Anonymous());
        if (r.status != 200) problem(std::string(path) + ": " + std::to_string(r.status));
      }
      auto r = Send("GET", "/v1/admin/certs", "", AdminSocket(), {{"limit", "50"}});
      if (r.status != 200) problem("certs: " + std::to_string(r.status) + " " + r.body);
    } while (!done_admin);
  });
  for (auto& t : threads) t.join();
  EXPECT_TRUE(problems.empty()) << problems.front();

  int64_t answered = 0;
  for (const Answers& a : answers) {
    EXPECT_TRUE(a.refusals.empty()) << a.refusals.front();
    ASSERT_EQ(a.serials.size(), static_cast<size_t>(kSignsEach));
    for (size_t n = 0; n < a.serials.size(); ++n) {
      auto record = rt_->store().GetCertificate(a.serials[n]).value();
      ASSERT_TRUE(record) << a.serials[n] << " was answered but is not in the store";
      EXPECT_FALSE(record->revoked_at);
      EXPECT_EQ(VerifyAt(a.chains[n], roots, clock_.Now()), "") << a.serials[n];
    }
    answered += static_cast<int64_t>(a.serials.size());
  }

  // The victim was stopped, with the documented refusal.
  EXPECT_EQ(victim_answers.last.status, 403) << victim_answers.last.body;
  EXPECT_EQ(ErrorCodeOf(victim_answers.last), "node_banned");
  const auto revoked = AllRevokedSerials();
  EXPECT_TRUE(revoked.contains(victim.serial));
  for (const std::string& serial : victim_answers.serials) {
    auto record = rt_->store().GetCertificate(serial).value();
    ASSERT_TRUE(record) << serial;
    EXPECT_TRUE(record->revoked_at) << serial << " was issued to the banned node and is still valid";
    EXPECT_TRUE(revoked.contains(serial)) << serial << " is missing from the CRL";
  }
  answered += static_cast<int64_t>(victim_answers.serials.size());
  EXPECT_EQ(CountRows("certificates WHERE kind = 'workload'"), answered) << "one row per answered certificate";

  auto verify = Send("GET", "/v1/admin/audit/verify", "", AdminSocket());
  ASSERT_EQ(verify.status, 200) << verify.body;
  EXPECT_TRUE(Json(verify).at("intact").as_bool()) << verify.body;
}

}  // namespace concurrency_test
}  // namespace mayfly::testing
