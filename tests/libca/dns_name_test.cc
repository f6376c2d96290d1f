// DNS SAN names: LDH labels, lowercasing, wildcards only where allowed.
#include <string>

#include <gtest/gtest.h>

#include "mayfly/identity.h"

namespace mayfly {
namespace dns_name_test {

const std::string kLabel63(63, 'a');
// Four labels of 63 and a dot each side: 4 * 63 + 3 = 255, so trim to 253.
const std::string kName253 = kLabel63 + "." + kLabel63 + "." + kLabel63 + "." +
                             std::string(61, 'b');

struct AcceptCase {
  std::string input;
  bool allow_wildcard;
  std::string normalized;
};

const AcceptCase kAccepted[] = {
    {"example.com", false, "example.com"},
    {"Example.COM", false, "example.com"},
    {"localhost", false, "localhost"},
    {"a", false, "a"},
    {"a-b.c-d.example", false, "a-b.c-d.example"},
    {"1a.example.com", false, "1a.example.com"},
    {"a.1b", false, "a.1b"},  // a numeric-looking label is fine unless it is the last
    {"10.example.com", false, "10.example.com"},
    {"xn--bcher-kva.example", false, "xn--bcher-kva.example"},
    {"a--b.example", false, "a--b.example"},
    {"*.example.com", true, "*.example.com"},
    {"*.Example.Com", true, "*.example.com"},
    {"*.internal", true, "*.internal"},
    {"example.com", true, "example.com"},
    {kLabel63 + ".com", false, kLabel63 + ".com"},
    {kName253, false, kName253},
};

TEST(DnsNameTest, AcceptsAndNormalizesValidNames) {
  for (const AcceptCase& c : kAccepted) {
    SCOPED_TRACE(c.input.substr(0, 80));
    auto name = NormalizeDnsName(c.input, c.allow_wildcard);
    ASSERT_TRUE(name.has_value()) << name.error().ToString();
    EXPECT_EQ(*name, c.normalized);
  }
}

struct RejectCase {
  std::string input;
  bool allow_wildcard;
  std::string rule;
};

const RejectCase kRejected[] = {
    {"", false, "is empty"},
    {".", false, "must not end with '.'"},
    {"example.com.", false, "must not end with '.'"},
    {".example.com", false, "empty labels"},
    {"a..b", false, "empty labels"},
    {"-a.com", false, "must not start or end with '-'"},
    {"a-.com", false, "must not start or end with '-'"},
    {"a.-", false, "must not start or end with '-'"},
    {"a_b.com", false, "characters are limited"},
    {"_acme-challenge.example.com", false, "characters are limited"},
    {"a b.com", false, "characters are limited"},
    {"exa%mple.com", false, "characters are limited"},
    {"example.com/x", false, "characters are limited"},
    {"caf\xc3\xa9.com", false, "characters are limited"},
    {"::1", false, "characters are limited"},
    {"[::1]", false, "characters are limited"},
    {std::string(64, 'a') + ".com", false, "label longer than 63"},
    {kName253 + "b", false, "longer than 253"},
    {"*.example.com", false, "wildcards are not allowed here"},
    {"*", false, "wildcards are not allowed here"},
    {"*", true, "needs a domain after"},
    {"*.", true, "must not end with '.'"},
    {"a.*.com", true, "only as the whole first label"},
    {"*a.com", true, "only as the whole first label"},
    {"a*.com", true, "only as the whole first label"},
    {"**.com", true, "only as the whole first label"},
    {"*.*.com", true, "only as the whole first label"},
    {"1.2.3.4", false, "looks like an IP address"},
    {"10.0.0.1", false, "looks like an IP address"},
    {"123", false, "looks like an IP address"},
    {"host.0", false, "looks like an IP address"},
    {"*.10.0.0", true, "looks like an IP address"},
};

TEST(DnsNameTest, RejectsInvalidNamesNamingTheRule) {
  for (const RejectCase& c : kRejected) {
    SCOPED_TRACE(QuoteForMessage(c.input, 80));
    auto name = NormalizeDnsName(c.input, c.allow_wildcard);
    ASSERT_FALSE(name.has_value()) << *name;
    EXPECT_EQ(name.error().code, ErrorCode::kInvalidName);
    EXPECT_NE(name.error().message.find(c.rule), std::string::npos) << name.error().message;
    EXPECT_NE(name.error().message.find(QuoteForMessage(c.input)), std::string::npos);
  }
}

}  // namespace dns_name_test
}  // namespace mayfly
