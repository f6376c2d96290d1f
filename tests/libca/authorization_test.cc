// Sign authorization: entries, node globs, SAN subsets, TTL clamping, admins.
#include "mayfly/authorization.h"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace mayfly {
namespace authorization_test {

using std::chrono::hours;
using std::chrono::seconds;


AuthzPolicy Policy() {
  AuthzPolicy policy;
  policy.trust_domain = "example.org";
  policy.default_ttl = hours(1);
  policy.min_ttl = seconds(60);
  policy.max_ttl = hours(24);
  return policy;
}

EntryRecord Entry(int64_t id, std::string path, std::string node, std::vector<std::string> dns,
                  std::vector<std::string> ips, int64_t max_ttl) {
  EntryRecord entry;
  entry.id = id;
  entry.spiffe_id = "spiffe://example.org" + path;
  entry.node = std::move(node);
  entry.dns = std::move(dns);
  entry.ips = std::move(ips);
  entry.max_ttl = max_ttl;
  entry.source = "api";
  return entry;
}

// Listed out of id order on purpose: ties must go to the lowest id.
const std::vector<EntryRecord> kEntries = {
    Entry(1, "/ns/web", "web-1", {"web.example.com", "*.web.example.com"}, {"10.0.0.1"}, 7200),
    Entry(2, "/ns/web", "web-*", {"web.example.com"}, {}, 0),
    Entry(3, "/ns/db", "db-?", {}, {"10.0.0.5", "fd00::5"}, 600),
    Entry(4, "/ns/batch", "batch-1", {}, {}, 30),  // below min_ttl: the floor wins
    Entry(6, "/ns/tie", "tie-*", {}, {}, 600),
    Entry(5, "/ns/tie", "tie-1", {}, {}, 600),
    Entry(7, "/mayfly/node/web-1", "web-1", {}, {}, 0),  // never honoured
};

struct SignCase {
  const char* name;
  Caller::Kind kind;
  std::string caller;
  std::string spiffe_id;
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  std::optional<seconds> ttl;
  // Expected outcome: an error code with message fragments, or entry and TTL.
  std::optional<ErrorCode> error;
  std::vector<std::string> message_has;
  int64_t entry_id;
  seconds want_ttl;
};

constexpr auto kNode = Caller::Kind::kNode;
constexpr auto kAdmin = Caller::Kind::kAdmin;

const SignCase kCases[] = {
    // Allowed, and which entry wins.
    {"largest max ttl wins", kNode, "web-1", "spiffe://example.org/ns/web", {}, {}, {},
     {}, {}, 2, hours(1)},
    {"only entry 1 has the ip", kNode, "web-1", "spiffe://example.org/ns/web",
     {"WEB.example.com"}, {"10.0.0.1"}, {}, {}, {}, 1, hours(1)},
    {"wildcard requested exactly", kNode, "web-1", "spiffe://example.org/ns/web",
     {"*.web.example.com"}, {}, {}, {}, {}, 1, hours(1)},
    {"glob * matches", kNode, "web-17", "spiffe://example.org/ns/web", {"web.example.com"},
     {}, {}, {}, {}, 2, hours(1)},
    {"glob ? matches one char", kNode, "db-1", "spiffe://example.org/ns/db", {},
     {"fd00:0::5"}, {}, {}, {}, 3, seconds(600)},
    {"tie goes to lowest id", kNode, "tie-1", "spiffe://example.org/ns/tie", {}, {}, {}, {},
     {}, 5, seconds(600)},
    {"duplicate SANs are fine", kNode, "web-2", "spiffe://example.org/ns/web",
     {"web.example.com", "Web.Example.Com"}, {}, {}, {}, {}, 2, hours(1)},

    // TTL clamping.
    {"requested ttl kept", kNode, "web-1", "spiffe://example.org/ns/web", {}, {},
     seconds(600), {}, {}, 2, seconds(600)},
    {"entry max lowers ttl", kNode, "web-1", "spiffe://example.org/ns/web",
     {"*.web.example.com"}, {}, hours(10), {}, {}, 1, seconds(7200)},
    {"entry max lowers default", kNode, "db-2", "spiffe://example.org/ns/db", {}, {}, {}, {},
     {}, 3, seconds(600)},
    {"entry max 0 means policy max", kNode, "web-1", "spiffe://example.org/ns/web", {}, {},
     hours(10), {}, {}, 2, hours(10)},
    {"policy max lowers ttl", kNode, "web-1", "spiffe://example.org/ns/web", {}, {},
     hours(48), {}, {}, 2, hours(24)},
    {"policy min raises ttl", kNode, "web-1", "spiffe://example.org/ns/web", {}, {},
     seconds(10), {}, {}, 2, seconds(60)},
    {"policy min beats entry max", kNode, "batch-1", "spiffe://example.org/ns/batch", {}, {},
     {}, {}, {}, 4, seconds(60)},

    // Refused for a node.
    {"wrong node", kNode, "db-1", "spiffe://example.org/ns/web", {}, {}, {},
     ErrorCode::kForbidden,
     {"node \"db-1\" has no registration entry for spiffe://example.org/ns/web"}, 0, {}},
    {"glob ? is one char only", kNode, "db-12", "spiffe://example.org/ns/db", {}, {}, {},
     ErrorCode::kForbidden,
     {"node \"db-12\" has no registration entry for spiffe://example.org/ns/db"}, 0, {}},
    {"unknown id", kNode, "web-1", "spiffe://example.org/ns/other", {}, {}, {},
     ErrorCode::kForbidden, {"node \"web-1\"", "spiffe://example.org/ns/other"}, 0, {}},
    {"dns superset refused", kNode, "web-2", "spiffe://example.org/ns/web",
     {"web.example.com", "evil.example.com"}, {}, {}, ErrorCode::kForbidden,
     {"node \"web-2\"",
      "dns name \"evil.example.com\" is not allowed by entry 2 for spiffe://example.org/ns/web"},
     0, {}},
    {"wildcard entry grants no specific name", kNode, "web-1", "spiffe://example.org/ns/web",
     {"api.web.example.com"}, {}, {}, ErrorCode::kForbidden,
     {"\"api.web.example.com\" is not allowed by entry 1",
      "\"api.web.example.com\" is not allowed by entry 2"},
     0, {}},
    {"wildcard not granted by plain name", kNode, "web-2", "spiffe://example.org/ns/web",
     {"*.example.com"}, {}, {}, ErrorCode::kForbidden,
     {"dns name \"*.example.com\" is not allowed by entry 2"}, 0, {}},
    {"ip not allowed", kNode, "web-2", "spiffe://example.org/ns/web", {}, {"10.0.0.1"}, {},
     ErrorCode::kForbidden, {"ip address \"10.0.0.1\" is not allowed by entry 2"}, 0, {}},
    {"ip compared by value", kNode, "db-1", "spiffe://example.org/ns/db", {}, {"::ffff:10.0.0.5"},
     {}, ErrorCode::kForbidden, {"ip address \"::ffff:10.0.0.5\" is not allowed by entry 3"}, 0,
     {}},
    {"reserved node id", kNode, "web-1", "spiffe://example.org/mayfly/node/web-1", {}, {}, {},
     ErrorCode::kForbidden, {"paths under /mayfly/ are reserved"}, 0, {}},
    {"reserved root", kNode, "web-1", "spiffe://example.org/mayfly", {}, {}, {},
     ErrorCode::kForbidden, {"paths under /mayfly/ are reserved"}, 0, {}},
    {"other trust domain", kNode, "web-1", "spiffe://other.org/ns/web", {}, {}, {},
     ErrorCode::kForbidden, {"spiffe://other.org/ns/web is not in trust domain \"example.org\""},
     0, {}},
    {"no path", kNode, "web-1", "spiffe://example.org", {}, {}, {}, ErrorCode::kForbidden,
     {"has no path"}, 0, {}},
    {"malformed dns", kNode, "web-1", "spiffe://example.org/ns/web", {"bad_name"}, {}, {},
     ErrorCode::kInvalidName, {"bad_name"}, 0, {}},
    {"zero ttl", kNode, "web-1", "spiffe://example.org/ns/web", {}, {}, seconds(0),
     ErrorCode::kInvalidArgument, {"ttl must be positive"}, 0, {}},

    // Admins: any workload ID and SANs, policy limits only.
    {"admin any id and sans", kAdmin, "alice", "spiffe://example.org/anything/at/all",
     {"anything.example.net", "*.example.net"}, {"192.0.2.1"}, {}, {}, {}, 0, hours(1)},
    {"admin ignores entry max", kAdmin, "alice", "spiffe://example.org/ns/db", {}, {},
     hours(10), {}, {}, 0, hours(10)},
    {"admin policy max", kAdmin, "alice", "spiffe://example.org/ns/x", {}, {}, hours(48), {},
     {}, 0, hours(24)},
    {"admin policy min", kAdmin, "alice", "spiffe://example.org/ns/x", {}, {}, seconds(1), {},
     {}, 0, seconds(60)},
    {"admin reserved refused", kAdmin, "alice", "spiffe://example.org/mayfly/admin/bob", {}, {},
     {}, ErrorCode::kForbidden, {"paths under /mayfly/ are reserved"}, 0, {}},
    {"admin other trust domain refused", kAdmin, "alice", "spiffe://other.org/ns/x", {}, {}, {},
     ErrorCode::kForbidden, {"not in trust domain"}, 0, {}},
};

TEST(AuthorizationTest, AuthorizeSignTable) {
  const AuthzPolicy policy = Policy();
  for (const SignCase& c : kCases) {
    SCOPED_TRACE(c.name);
    auto id = SpiffeId::Parse(c.spiffe_id);
    ASSERT_TRUE(id.has_value()) << id.error().ToString();
    std::vector<IpAddress> ips;
    for (const std::string& text : c.ips) ips.push_back(*ParseIpAddress(text));
    const SignRequest request{*id, c.dns, ips, c.ttl};
    auto decision = AuthorizeSign(Caller{c.kind, c.caller}, request, kEntries, policy);
    if (c.error) {
      ASSERT_FALSE(decision.has_value()) << "allowed by entry " << decision->entry_id;
      EXPECT_EQ(decision.error().code, *c.error) << decision.error().ToString();
      for (const std::string& fragment : c.message_has) {
        EXPECT_NE(decision.error().message.find(fragment), std::string::npos)
            << "missing [" << fragment << "] in: " << decision.error().message;
      }
    } else {
      ASSERT_TRUE(decision.has_value()) << decision.error().ToString();
      EXPECT_EQ(decision->entry_id, c.entry_id);
      EXPECT_EQ(decision->ttl, c.want_ttl);
    }
  }
}

TEST(AuthorizationTest, NoEntriesRefusesEveryNode) {
  auto id = SpiffeId::Parse("spiffe://example.org/ns/web");
  ASSERT_TRUE(id.has_value());
  auto decision = AuthorizeSign(Caller{kNode, "web-1"}, SignRequest{*id, {}, {}, {}}, {}, Policy());
  ASSERT_FALSE(decision.has_value());
  EXPECT_EQ(decision.error().code, ErrorCode::kForbidden);
}

TEST(AuthorizationTest, ValidateEntryNormalizes) {
  EntryRecord in = Entry(9, "/ns/web", "web-*", {"WEB.example.com", "web.example.com",
                                                 "*.Web.Example.com"},
                         {"2001:DB8:0::1", "10.0.0.1", "10.0.0.1"}, 0);
  auto out = ValidateEntry(in, Policy());
  ASSERT_TRUE(out.has_value()) << out.error().ToString();
  EXPECT_EQ(out->id, 9);
  EXPECT_EQ(out->source, "api");
  EXPECT_EQ(out->spiffe_id, "spiffe://example.org/ns/web");
  EXPECT_EQ(out->node, "web-*");
  EXPECT_EQ(out->dns, (std::vector<std::string>{"web.example.com", "*.web.example.com"}));
  EXPECT_EQ(out->ips, (std::vector<std::string>{"2001:db8::1", "10.0.0.1"}));
  EXPECT_EQ(out->max_ttl, 0);  // kept as 0: follows the policy's max

  for (const char* node : {"web-1", "*", "web-??", "db-*.dc1", "node_1"}) {
    EXPECT_TRUE(ValidateEntry(Entry(1, "/a", node, {}, {}, 0), Policy()).has_value()) << node;
  }
  for (int64_t ttl : {int64_t{60}, int64_t{3600}, int64_t{86400}}) {
    EXPECT_TRUE(ValidateEntry(Entry(1, "/a", "n", {}, {}, ttl), Policy()).has_value()) << ttl;
  }
}

TEST(AuthorizationTest, ValidateEntryRejects) {
  struct Case {
    EntryRecord entry;
    ErrorCode code;
    std::string message_has;
  };
  EntryRecord bad_id = Entry(1, "/a", "n", {}, {}, 0);
  bad_id.spiffe_id = "spiffe://example.org/a/";
  EntryRecord other_td = bad_id;
  other_td.spiffe_id = "spiffe://other.org/a";
  const Case cases[] = {
      {bad_id, ErrorCode::kInvalidSpiffeId, "must not end with '/'"},
      {other_td, ErrorCode::kInvalidSpiffeId, "not in trust domain"},
      {Entry(1, "/mayfly/node/n", "n", {}, {}, 0), ErrorCode::kInvalidSpiffeId,
       "paths under /mayfly/ are reserved"},
      {Entry(1, "", "n", {}, {}, 0), ErrorCode::kInvalidSpiffeId, "has no path"},
      {Entry(1, "/a", "", {}, {}, 0), ErrorCode::kInvalidName, "node name \"\": is empty"},
      {Entry(1, "/a", "Web-*", {}, {}, 0), ErrorCode::kInvalidName, "node glob \"Web-*\""},
      {Entry(1, "/a", "web/*", {}, {}, 0), ErrorCode::kInvalidName, "characters are limited"},
      {Entry(1, "/a", std::string(65, '*'), {}, {}, 0), ErrorCode::kInvalidName,
       "longer than 64"},
      {Entry(1, "/a", "n", {"bad_name"}, {}, 0), ErrorCode::kInvalidName, "\"bad_name\""},
      {Entry(1, "/a", "n", {"a.*.com"}, {}, 0), ErrorCode::kInvalidName, "first label"},
      {Entry(1, "/a", "n", {}, {"10.0.0.256"}, 0), ErrorCode::kInvalidName, "\"10.0.0.256\""},
      {Entry(1, "/a", "n", {}, {"fe80::1%eth0"}, 0), ErrorCode::kInvalidName, "zone"},
      {Entry(1, "/a", "n", {}, {}, -1), ErrorCode::kInvalidArgument, "max ttl -1s"},
      {Entry(1, "/a", "n", {}, {}, 30), ErrorCode::kInvalidArgument,
       "max ttl 30s is outside the policy's 1m to 1d"},
      {Entry(1, "/a", "n", {}, {}, 172800), ErrorCode::kInvalidArgument, "max ttl 2d"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.entry.spiffe_id + " node=" + c.entry.node);
    auto out = ValidateEntry(c.entry, Policy());
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.error().code, c.code) << out.error().ToString();
    EXPECT_NE(out.error().message.find(c.message_has), std::string::npos)
        << out.error().message;
    EXPECT_EQ(out.error().message.rfind("registration entry", 0), 0u) << out.error().message;
  }
}

}  // namespace authorization_test
}  // namespace mayfly
