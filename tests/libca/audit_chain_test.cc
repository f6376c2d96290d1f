// The audit chain's rules on their own, without a store: which event a
// check names as the first bad one, for each way a chain can be altered.
#include "mayfly/audit_chain.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

namespace mayfly {
namespace audit_chain_test {

// A well-formed chain of `n` events, ids 1..n.
std::vector<AuditEvent> Chain(int n) {
  std::vector<AuditEvent> events;
  std::string prev;
  for (int i = 1; i <= n; ++i) {
    AuditEvent e{.id = i, .time = 1000 + i, .type = "issue", .actor = "admin-socket",
                 .subject = "spiffe://example.org/w" + std::to_string(i), .result = "ok", .detail = "{}"};
    e.prev_hash = prev;
    e.hash = AuditEventHash(e).value();
    prev = e.hash;
    events.push_back(e);
  }
  return events;
}

AuditChainCheck Check(const std::vector<AuditEvent>& events, int64_t last_assigned) {
  AuditChainVerifier verifier;
  for (const AuditEvent& e : events) {
    auto good = verifier.Add(e);
    EXPECT_TRUE(good);
    if (!*good) break;
  }
  return verifier.Finish(last_assigned);
}

TEST(AuditChainTest, HashCoversEveryFieldAndTheLink) {
  const AuditEvent base = Chain(1)[0];
  const std::string h = AuditEventHash(base).value();
  EXPECT_EQ(h.size(), 64u);
  const std::vector<std::function<void(AuditEvent&)>> edits = {
      [](AuditEvent& e) { e.prev_hash = "00"; }, [](AuditEvent& e) { e.time += 1; },
      [](AuditEvent& e) { e.type = "revoke"; },  [](AuditEvent& e) { e.actor += "x"; },
      [](AuditEvent& e) { e.subject += "x"; },   [](AuditEvent& e) { e.result = "denied"; },
      [](AuditEvent& e) { e.detail = "{ }"; },
      // Moving bytes between fields changes the hash too (length prefixes).
      [](AuditEvent& e) { e.type = "issu"; e.actor = "eadmin-socket"; },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    AuditEvent e = base;
    edits[i](e);
    EXPECT_NE(AuditEventHash(e).value(), h) << "edit " << i;
  }
}

struct Case {
  const char* name;
  std::function<void(std::vector<AuditEvent>&)> alter;
  int64_t last_assigned;                 // the store's sequence
  std::optional<int64_t> first_bad_id;   // what the check must name
};

TEST(AuditChainTest, NamesTheFirstBadEvent) {
  const Case cases[] = {
      {"intact", [](auto&) {}, 5, std::nullopt},
      {"empty", [](auto& ev) { ev.clear(); }, 0, std::nullopt},
      {"edited field", [](auto& ev) { ev[2].subject = "spiffe://example.org/evil"; }, 5, 3},
      {"edited and re-hashed", [](auto& ev) {
         ev[2].subject = "spiffe://example.org/evil";
         ev[2].hash = AuditEventHash(ev[2]).value();
       }, 5, 4},
      {"deleted in the middle", [](auto& ev) { ev.erase(ev.begin() + 1); }, 5, 3},
      {"deleted at the end", [](auto& ev) { ev.pop_back(); ev.pop_back(); }, 5, 4},
      {"deleted first", [](auto& ev) { ev.erase(ev.begin()); }, 5, 2},
      {"swapped", [](auto& ev) { std::swap(ev[1], ev[2]); }, 5, 3},
  };
  for (const Case& c : cases) {
    std::vector<AuditEvent> events = Chain(5);
    c.alter(events);
    EXPECT_EQ(Check(events, c.last_assigned).first_bad_id, c.first_bad_id) << c.name;
  }
}

TEST(AuditChainTest, CountsTheEventsRead) {
  EXPECT_EQ(Check(Chain(7), 7).events, 7);
}

}  // namespace audit_chain_test
}  // namespace mayfly
