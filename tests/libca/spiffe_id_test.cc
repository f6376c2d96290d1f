// SPIFFE ID parsing to the spec, and Mayfly's reserved node/admin identities.
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "mayfly/identity.h"

namespace mayfly {
namespace spiffe_id_test {

using namespace std::string_literals;

// Asserts `r` failed with `code` and a message naming `rule`.
template <typename T>
void ExpectRejected(const Result<T>& r, ErrorCode code, std::string_view rule) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, code) << r.error().ToString();
  EXPECT_NE(r.error().message.find(rule), std::string::npos) << r.error().message;
}

const std::string kLongTd(255, 'a');
// "spiffe://example.org/" is 21 bytes; pad the path to exactly 2048 in all.
const std::string kMaxLengthId = "spiffe://example.org/" + std::string(2048 - 21, 'p');

struct AcceptCase {
  std::string input;
  std::string trust_domain;
  std::string path;
};

const AcceptCase kAccepted[] = {
    {"spiffe://example.org", "example.org", ""},
    {"spiffe://example.org/ns/prod/web", "example.org", "/ns/prod/web"},
    {"spiffe://example.org/a", "example.org", "/a"},
    {"spiffe://a", "a", ""},
    {"spiffe://1.2.3.4/x", "1.2.3.4", "/x"},  // the spec allows dotted quads
    {"spiffe://my_td-1.example/x", "my_td-1.example", "/x"},
    {"spiffe://example.org/AZaz09.-_", "example.org", "/AZaz09.-_"},
    {"spiffe://example.org/.../x", "example.org", "/.../x"},  // only "." and ".." are special
    {"spiffe://example.org/.hidden/a..b", "example.org", "/.hidden/a..b"},
    {"spiffe://example.org/mayfly/node/web-1", "example.org", "/mayfly/node/web-1"},
    {"spiffe://" + kLongTd + "/x", kLongTd, "/x"},
    {kMaxLengthId, "example.org", kMaxLengthId.substr(20)},
};

TEST(SpiffeIdTest, AcceptsValidIds) {
  for (const AcceptCase& c : kAccepted) {
    SCOPED_TRACE(c.input.substr(0, 80));
    auto id = SpiffeId::Parse(c.input);
    ASSERT_TRUE(id.has_value()) << id.error().ToString();
    EXPECT_EQ(id->trust_domain(), c.trust_domain);
    EXPECT_EQ(id->path(), c.path);
    EXPECT_EQ(id->ToString(), c.input);
  }
}

struct RejectCase {
  std::string input;
  std::string rule;   // a fragment of the message naming the rule broken
};

const RejectCase kRejected[] = {
    // Scheme.
    {"", "is empty"},
    {"SPIFFE://example.org/a", "scheme must be lowercase"},
    {"Spiffe://example.org/a", "scheme must be lowercase"},
    {"spiffe:/example.org/a", "must be followed by \"://\""},
    {"spiffe:example.org", "must be followed by \"://\""},
    {"spiffe//example.org/a", "must start with \"spiffe://\""},
    {"example.org/a", "must start with \"spiffe://\""},
    {"https://example.org/a", "must start with \"spiffe://\""},
    {" spiffe://example.org/a", "must start with \"spiffe://\""},
    // Trust domain.
    {"spiffe://", "trust domain is empty"},
    {"spiffe:///a", "trust domain is empty"},
    {"spiffe://Example.org/a", "trust domain must be lowercase"},
    {"spiffe://EXAMPLE.ORG", "trust domain must be lowercase"},
    {"spiffe://example.org:8443/a", "must not contain a port"},
    {"spiffe://example.org:/a", "must not contain a port"},
    {"spiffe://user@example.org/a", "must not contain userinfo"},
    {"spiffe://user:secret@example.org/a", "must not contain userinfo"},
    {"spiffe://[::1]/a", "trust domain must not be an IP literal"},
    {"spiffe://exa%41mple.org/a", "trust domain must not contain percent-encoded"},
    {"spiffe://exa mple.org/a", "trust domain characters are limited"},
    {"spiffe://example.org!/a", "trust domain characters are limited"},
    {"spiffe://ex\xc3\xa4mple.org/a", "trust domain characters are limited"},
    {"spiffe://" + std::string(256, 'a') + "/x", "trust domain is longer than 255"},
    // Query and fragment.
    {"spiffe://example.org/a?x=1", "must not have a query"},
    {"spiffe://example.org?x", "must not have a query"},
    {"spiffe://example.org/a#frag", "must not have a fragment"},
    {"spiffe://example.org#", "must not have a fragment"},
    // Path.
    {"spiffe://example.org//a", "must not contain empty segments"},
    {"spiffe://example.org/a//b", "must not contain empty segments"},
    {"spiffe://example.org/", "must not end with '/'"},
    {"spiffe://example.org/a/", "must not end with '/'"},
    {"spiffe://example.org/.", "must not contain '.' or '..' segments"},
    {"spiffe://example.org/..", "must not contain '.' or '..' segments"},
    {"spiffe://example.org/a/./b", "must not contain '.' or '..' segments"},
    {"spiffe://example.org/a/../b", "must not contain '.' or '..' segments"},
    {"spiffe://example.org/a%20b", "path must not contain percent-encoded"},
    {"spiffe://example.org/%2e%2e", "path must not contain percent-encoded"},
    {"spiffe://example.org/a b", "path segment characters are limited"},
    {"spiffe://example.org/a$b", "path segment characters are limited"},
    {"spiffe://example.org/a;b", "path segment characters are limited"},
    {"spiffe://example.org/a\\b", "path segment characters are limited"},
    {"spiffe://example.org/caf\xc3\xa9", "path segment characters are limited"},
    {"spiffe://example.org/a\n", "path segment characters are limited"},
    {"spiffe://example.org/a\0b"s, "path segment characters are limited"},
    // Length.
    {kMaxLengthId + "p", "is longer than 2048 bytes"},
    {"spiffe://example.org/" + std::string(100000, 'a'), "is longer than 2048 bytes"},
};

TEST(SpiffeIdTest, RejectsInvalidIdsNamingTheRule) {
  for (const RejectCase& c : kRejected) {
    SCOPED_TRACE(QuoteForMessage(c.input, 80));
    auto id = SpiffeId::Parse(c.input);
    ExpectRejected(id, ErrorCode::kInvalidSpiffeId, c.rule);
    if (id.has_value()) continue;
    // The message quotes the input (its first 100 bytes at most).
    EXPECT_NE(id.error().message.find(QuoteForMessage(c.input)), std::string::npos)
        << id.error().message;
    EXPECT_LT(id.error().message.size(), 400u);
  }
}

TEST(SpiffeIdTest, FromPartsAppliesTheSameRules) {
  auto id = SpiffeId::FromParts("example.org", "/ns/web");
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  EXPECT_EQ(id->ToString(), "spiffe://example.org/ns/web");
  EXPECT_EQ(*id, *SpiffeId::Parse("spiffe://example.org/ns/web"));

  auto td_only = SpiffeId::FromParts("example.org", "");
  ASSERT_TRUE(td_only.has_value());
  EXPECT_EQ(td_only->ToString(), "spiffe://example.org");

  const struct {
    std::string td, path, rule;
  } bad[] = {
      {"example.org", "ns/web", "must be empty or start with '/'"},
      {"Example.org", "/a", "must be lowercase"},
      {"", "/a", "trust domain is empty"},
      {"example.org", "/a?b", "must not contain '?' or '#'"},
      {"example.org", "/a/", "must not end with '/'"},
      {"example.org", "/" + std::string(3000, 'a'), "longer than 2048"},
  };
  for (const auto& c : bad) {
    SCOPED_TRACE(c.td + " " + c.path.substr(0, 40));
    ExpectRejected(SpiffeId::FromParts(c.td, c.path), ErrorCode::kInvalidSpiffeId, c.rule);
  }
}

TEST(SpiffeIdTest, ValidatesTrustDomainsAlone) {
  for (std::string_view td : {"example.org", "a", "td_1-x.y", "10.0.0.1"}) {
    EXPECT_TRUE(ValidateTrustDomain(td).has_value()) << td;
  }
  const struct {
    std::string td, rule;
  } bad[] = {
      {"", "empty"},
      {"Example.org", "lowercase"},
      {"spiffe://example.org", "without \"spiffe://\""},
      {"example.org:443", "port"},
      {"ex ample", "characters are limited"},
      {"example.org/a", "characters are limited"},
  };
  for (const auto& c : bad) {
    SCOPED_TRACE(c.td);
    ExpectRejected(ValidateTrustDomain(c.td), ErrorCode::kInvalidSpiffeId, c.rule);
  }
}

TEST(SpiffeIdTest, ValidatesNodeNames) {
  for (const std::string& name : {"web-1"s, "a"s, "node_1.dc-2"s, "..."s, std::string(64, 'a')}) {
    EXPECT_TRUE(ValidateNodeName(name).has_value()) << name;
  }
  const struct {
    std::string name, rule;
  } bad[] = {
      {"", "is empty"},
      {".", "must not be"},
      {"..", "must not be"},
      {"Web-1", "characters are limited"},
      {"a/b", "characters are limited"},
      {"a b", "characters are limited"},
      {"web-*", "characters are limited"},
      {std::string(65, 'a'), "longer than 64"},
  };
  for (const auto& c : bad) {
    SCOPED_TRACE(c.name);
    ExpectRejected(ValidateNodeName(c.name), ErrorCode::kInvalidName, c.rule);
  }
}

TEST(SpiffeIdTest, BuildsNodeAndAdminIds) {
  auto node = NodeSpiffeId("example.org", "web-1");
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(node->ToString(), "spiffe://example.org/mayfly/node/web-1");
  auto admin = AdminSpiffeId("example.org", "alice");
  ASSERT_TRUE(admin.has_value());
  EXPECT_EQ(admin->ToString(), "spiffe://example.org/mayfly/admin/alice");

  EXPECT_EQ(NodeSpiffeId("example.org", "Web").error().code, ErrorCode::kInvalidName);
  EXPECT_EQ(AdminSpiffeId("example.org", "").error().code, ErrorCode::kInvalidName);
  EXPECT_EQ(NodeSpiffeId("Example.org", "web").error().code, ErrorCode::kInvalidSpiffeId);
}

TEST(SpiffeIdTest, ClassifiesReservedPaths) {
  const struct {
    std::string path;
    bool reserved;
    IdentityKind kind;
    std::string name;
  } cases[] = {
      {"", false, IdentityKind::kWorkload, ""},
      {"/ns/web", false, IdentityKind::kWorkload, ""},
      {"/mayflyer", false, IdentityKind::kWorkload, ""},
      {"/mayfl", false, IdentityKind::kWorkload, ""},
      {"/a/mayfly/node/x", false, IdentityKind::kWorkload, ""},
      {"/Mayfly/node/x", false, IdentityKind::kWorkload, ""},  // paths are case-sensitive
      {"/mayfly/node/web-1", true, IdentityKind::kNode, "web-1"},
      {"/mayfly/admin/alice", true, IdentityKind::kAdmin, "alice"},
      {"/mayfly", true, IdentityKind::kOtherReserved, ""},
      {"/mayfly/ca", true, IdentityKind::kOtherReserved, ""},
      {"/mayfly/node", true, IdentityKind::kOtherReserved, ""},
      {"/mayfly/node/web-1/x", true, IdentityKind::kOtherReserved, ""},
      {"/mayfly/node/Web-1", true, IdentityKind::kOtherReserved, ""},  // not a node name
      {"/mayfly/admin/" + std::string(65, 'a'), true, IdentityKind::kOtherReserved, ""},
      {"/mayfly/admins/alice", true, IdentityKind::kOtherReserved, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    auto id = SpiffeId::FromParts("example.org", c.path);
    ASSERT_TRUE(id.has_value()) << id.error().ToString();
    EXPECT_EQ(id->IsReserved(), c.reserved);
    ClassifiedId classified = ClassifyId(*id);
    EXPECT_EQ(classified.kind, c.kind);
    EXPECT_EQ(classified.name, c.name);
  }
}

TEST(SpiffeIdTest, QuotesUntrustedTextForMessages) {
  EXPECT_EQ(QuoteForMessage("abc"), "\"abc\"");
  EXPECT_EQ(QuoteForMessage("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(QuoteForMessage("a\nb\x7f\xff"), "\"a\\x0ab\\x7f\\xff\"");
  EXPECT_EQ(QuoteForMessage(std::string(150, 'x')),
            "\"" + std::string(100, 'x') + "\"... (150 bytes)");
  EXPECT_EQ(QuoteForMessage("abcdef", 3), "\"abc\"... (6 bytes)");
}

}  // namespace spiffe_id_test
}  // namespace mayfly
