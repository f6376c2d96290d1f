// Every store mutation commits its audit event in its own transaction, on
// both backends: a success appends exactly the event given (built from what
// the write did, where it depends on it) and the chain still verifies; a
// failure appends nothing and writes nothing.
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mayfly/store.h"
#include "support/store_fixture.h"

namespace mayfly {
namespace store_mutation_audit_test {

constexpr int64_t kNow = 1000;
const std::string kAdminId = "spiffe://example.org/admin/amy";

// The event a case's mutation passes; `detail` is the case's, or what the
// write reported to the event's builder (serials, an entry id).
AuditEvent Event(std::string type, std::string subject, std::string detail) {
  return {.time = kNow,
          .type = std::move(type),
          .actor = "admin-socket",
          .subject = std::move(subject),
          .result = "ok",
          .detail = std::move(detail)};
}

std::string Joined(const std::vector<std::string>& serials) {
  std::string out;
  for (const std::string& s : serials) out += (out.empty() ? "" : ",") + s;
  return out;
}

// Builders recording what the write reported in the event's detail.
RevocationAuditEvent RevokedEvent(std::string type, std::string subject) {
  return [=](const std::vector<std::string>& serials) {
    return Event(type, subject, AuditDetail({{"serials", Joined(serials)}}));
  };
}
EntryAuditEvent AddedEvent() {
  return [](int64_t id) {
    return Event("entry_add", "spiffe://example.org/web", AuditDetail({{"id", std::to_string(id)}}));
  };
}

CertRecord Cert(std::string serial, std::string spiffe_id, std::string node) {
  return {.serial = std::move(serial),
          .spiffe_id = std::move(spiffe_id),
          .node = std::move(node),
          .not_before = 10,
          .not_after = kNow + 500,
          .issued_at = 10,
          .der = std::string(64, '\x30')};
}

TokenRecord Token(std::string hash, std::string node) {
  return {.hash = std::move(hash), .node = std::move(node), .created_at = kNow, .expires_at = kNow + 60};
}

// Two certificates of web-1, one of the admin amy (with its role), one
// revoked already, one API entry (id 1) and one config entry (id 2), one
// token "h1": what the cases act on. Appends audit events of its own, before
// the case's snapshot.
void Seed(Store& store) {
  CertRecord revoked = Cert("0d", "spiffe://example.org/old", "web-2");
  revoked.revoked_at = 500;
  ASSERT_TRUE(store.InsertCertificates(std::vector{Cert("0a", "spiffe://example.org/web", "web-1"),
                                                   Cert("0b", "spiffe://example.org/web", "web-1"),
                                                   Cert("0c", kAdminId, ""), revoked}));
  ASSERT_TRUE(store.PutAdmin({.name = "amy", .role = AdminRole::kOperator, .created_at = 10}, {}, {}));
  ASSERT_TRUE(store.AddEntry({.spiffe_id = "spiffe://example.org/api", .node = "web-*"}, testing::kEntryEvent));
  ASSERT_TRUE(
      store.ReplaceConfigEntries(std::vector<EntryRecord>{{.spiffe_id = "spiffe://example.org/cfg", .node = "db-1"}}));
  ASSERT_TRUE(store.CreateToken(Token("h1", "web-1"), testing::TestEvent("token")));
  ASSERT_TRUE(store.AppendAudit(testing::TestEvent("seed")));
}

// Everything the mutations below may write, bar join tokens (no read call
// lists them; a token write that failed is a failed INSERT) and the audit
// chain (checked apart).
std::string Snapshot(Store& store) {
  std::string out = "generation=" + std::to_string(store.ChangeGeneration().value());
  out += " certs=" + std::to_string(store.CountCertificates(std::nullopt, kNow).value());
  out += " revoked=" + std::to_string(store.CountCertificates(CertStatus::kRevoked, kNow).value());
  const std::vector<EntryRecord> entries = store.ListEntries().value();
  for (const EntryRecord& e : entries) out += " entry=" + std::to_string(e.id) + e.spiffe_id;
  const std::vector<AdminRecord> admins = store.ListAdmins().value();
  for (const AdminRecord& a : admins) out += " admin=" + a.name + (a.revoked_at ? "(revoked)" : "");
  const std::vector<NodeRecord> restricted = store.ListRestrictedNodes().value();
  for (const NodeRecord& n : restricted) out += " restricted=" + n.name;
  return out;
}

struct Case {
  std::string name;
  // The mutation, with its event; returns what the write reported (serials
  // joined, an entry id) or "".
  std::function<Result<std::string>(Store&)> mutate;
  std::optional<ErrorCode> error;  // nullopt: it succeeds
  AuditEvent expected;             // on success: the event appended (id and hashes aside)
};

// What a mutation's result reports, as a case's mutate returns it.
Result<std::string> Reported(const Result<void>& r) {
  if (!r) return std::unexpected(r.error());
  return std::string();
}
// Whether the node was quarantined anew is not in its event.
Result<std::string> Reported(const Result<bool>& r) {
  if (!r) return std::unexpected(r.error());
  return std::string();
}
Result<std::string> Reported(const Result<int64_t>& id) {
  if (!id) return std::unexpected(id.error());
  return std::to_string(*id);
}
Result<std::string> Reported(const Result<std::vector<std::string>>& serials) {
  if (!serials) return std::unexpected(serials.error());
  return Joined(*serials);
}

// PutAdmin of `name` with a certificate `serial` and its event.
Result<std::string> PutAdminWithCert(Store& s, const std::string& name, const std::string& serial) {
  const CertRecord cert = Cert(serial, "spiffe://example.org/admin/" + name, "");
  const AuditEvent event = Event("admin_create", cert.spiffe_id, AuditDetail({{"serial", serial}}));
  return Reported(s.PutAdmin({.name = name, .role = AdminRole::kViewer, .created_at = kNow}, std::span(&cert, 1),
                             std::span(&event, 1)));
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {.name = "CreateToken",
       .mutate = [](Store& s) { return Reported(s.CreateToken(Token("h2", "web-2"), Event("token", "web-2", "{}"))); },
       .expected = Event("token", "web-2", "{}")},
      {.name = "CreateTokenDuplicateHash",
       .mutate = [](Store& s) { return Reported(s.CreateToken(Token("h1", "web-2"), Event("token", "web-2", "{}"))); },
       .error = ErrorCode::kConflict},
      {.name = "CreateTokenWithoutNode",
       .mutate = [](Store& s) { return Reported(s.CreateToken(Token("h3", ""), Event("token", "", "{}"))); },
       .error = ErrorCode::kInvalidArgument},
      {.name = "AddEntry",
       .mutate =
           [](Store& s) {
             return Reported(s.AddEntry({.spiffe_id = "spiffe://example.org/web", .node = "web-*"}, AddedEvent()));
           },
       .expected = Event("entry_add", "spiffe://example.org/web", R"({"id":"3"})")},
      {.name = "AddEntryMalformed",
       .mutate = [](Store& s) { return Reported(s.AddEntry({.spiffe_id = "", .node = "web-*"}, AddedEvent())); },
       .error = ErrorCode::kInvalidArgument},
      {.name = "RemoveEntry",
       .mutate = [](Store& s) { return Reported(s.RemoveEntry(1, Event("entry_remove", "entry 1", R"({"id":"1"})"))); },
       .expected = Event("entry_remove", "entry 1", R"({"id":"1"})")},
      {.name = "RemoveEntryUnknown",
       .mutate = [](Store& s) { return Reported(s.RemoveEntry(99, Event("entry_remove", "entry 99", "{}"))); },
       .error = ErrorCode::kNotFound},
      {.name = "RemoveEntryFromConfig",
       .mutate = [](Store& s) { return Reported(s.RemoveEntry(2, Event("entry_remove", "entry 2", "{}"))); },
       .error = ErrorCode::kNotFound},
      {.name = "RevokeSerial",
       .mutate =
           [](Store& s) {
             return Reported(
                 s.Revoke({.serial = "0a"}, RevocationReason::kKeyCompromise, kNow, RevokedEvent("revoke", "0a")));
           },
       .expected = Event("revoke", "0a", R"({"serials":"0a"})")},
      {.name = "RevokeNode",
       .mutate =
           [](Store& s) {
             return Reported(
                 s.Revoke({.node = "web-1"}, RevocationReason::kKeyCompromise, kNow, RevokedEvent("revoke", "web-1")));
           },
       .expected = Event("revoke", "web-1", R"({"serials":"0a,0b"})")},
      // A revocation that matches nothing still records that it was asked for.
      {.name = "RevokeRevokedSerial",
       .mutate =
           [](Store& s) {
             return Reported(
                 s.Revoke({.serial = "0d"}, RevocationReason::kKeyCompromise, kNow, RevokedEvent("revoke", "0d")));
           },
       .expected = Event("revoke", "0d", R"({"serials":""})")},
      {.name = "RevokeUnknownSerial",
       .mutate =
           [](Store& s) {
             return Reported(
                 s.Revoke({.serial = "ff"}, RevocationReason::kKeyCompromise, kNow, RevokedEvent("revoke", "ff")));
           },
       .error = ErrorCode::kNotFound},
      {.name = "RevokeNoSelector",
       .mutate =
           [](Store& s) {
             return Reported(s.Revoke({}, RevocationReason::kKeyCompromise, kNow, RevokedEvent("revoke", "")));
           },
       .error = ErrorCode::kInvalidArgument},
      {.name = "PutAdmin",
       .mutate = [](Store& s) { return PutAdminWithCert(s, "bob", "0e"); },
       .expected = Event("admin_create", "spiffe://example.org/admin/bob", R"({"serial":"0e"})")},
      {.name = "PutAdminExisting",
       .mutate = [](Store& s) { return PutAdminWithCert(s, "amy", "0e"); },
       .error = ErrorCode::kConflict},
      {.name = "PutAdminDuplicateSerial",
       .mutate = [](Store& s) { return PutAdminWithCert(s, "bob", "0a"); },
       .error = ErrorCode::kConflict},
      {.name = "RevokeAdmin",
       .mutate =
           [](Store& s) {
             return Reported(s.RevokeAdmin("amy", kAdminId, kNow, RevokedEvent("admin_revoke", kAdminId)));
           },
       .expected = Event("admin_revoke", kAdminId, R"({"serials":"0c"})")},
      // web-1's certificates are still there to revoke: a refused name
      // revokes nothing.
      {.name = "RevokeAdminUnknown",
       .mutate =
           [](Store& s) {
             return Reported(
                 s.RevokeAdmin("nobody", "spiffe://example.org/web", kNow, RevokedEvent("admin_revoke", "nobody")));
           },
       .error = ErrorCode::kNotFound},
      {.name = "QuarantineNode",
       .mutate =
           [](Store& s) {
             return Reported(s.QuarantineNode("web-1", "issuance_surge",
                                              Event("anomaly", "web-1", R"({"kind":"issuance_surge"})")));
           },
       .expected = Event("anomaly", "web-1", R"({"kind":"issuance_surge"})")},
      {.name = "QuarantineNodeWithoutKind",
       .mutate =
           [](Store& s) {
             return Reported(s.QuarantineNode("web-1", "", Event("anomaly", "web-1", "{}")));
           },
       .error = ErrorCode::kInvalidArgument},
  };
  return cases;
}

class StoreMutationAuditTest : public testing::StoreTestBase,
                               public ::testing::WithParamInterface<std::tuple<std::string, size_t>> {
 protected:
  void SetUp() override { OpenFresh(std::get<0>(GetParam())); }
};

TEST_P(StoreMutationAuditTest, AppendsItsEventInItsTransaction) {
  const Case& c = Cases()[std::get<1>(GetParam())];
  ASSERT_NO_FATAL_FAILURE(Seed(*store_));
  const std::vector<AuditEvent> before = store_->ListAudit(0, 1000, std::nullopt).value();
  const std::string state = Snapshot(*store_);

  auto r = c.mutate(*store_);

  const std::vector<AuditEvent> after = store_->ListAudit(0, 1000, std::nullopt).value();
  if (c.error) {
    ASSERT_FALSE(r) << "succeeded: " << *r;
    EXPECT_EQ(r.error().code, *c.error) << r.error().ToString();
    EXPECT_EQ(after.size(), before.size()) << "a failed write appended an event";
    EXPECT_EQ(Snapshot(*store_), state) << "a failed write changed the store";
  } else {
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_EQ(after.size(), before.size() + 1);
    const AuditEvent& got = after.front();  // newest first
    EXPECT_EQ(got.id, before.front().id + 1);
    EXPECT_EQ(got.type, c.expected.type);
    EXPECT_EQ(got.actor, c.expected.actor);
    EXPECT_EQ(got.subject, c.expected.subject);
    EXPECT_EQ(got.time, c.expected.time);
    EXPECT_EQ(got.detail, c.expected.detail);
    // The builder saw what the call returned.
    if (!r->empty()) {
      EXPECT_NE(got.detail.find(*r), std::string::npos) << got.detail << " lacks " << *r;
    }
  }
  auto chain = store_->VerifyAuditChain();
  ASSERT_TRUE(chain) << chain.error().ToString();
  EXPECT_EQ(chain->events, static_cast<int64_t>(after.size()));
  EXPECT_FALSE(chain->first_bad_id) << *chain->first_bad_id;
  // Durable and chained when the call returned: another connection reads it.
  Reopen();
  EXPECT_EQ(store_->ListAudit(0, 1000, std::nullopt).value().size(), after.size());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreMutationAuditTest,
                         ::testing::Combine(testing::StoreBackends(), ::testing::Range<size_t>(0, Cases().size())),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + Cases()[std::get<1>(info.param)].name;
                         });

}  // namespace store_mutation_audit_test
}  // namespace mayfly
