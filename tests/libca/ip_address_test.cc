// IP SANs and CIDR ranges: inet_pton parsing, canonical text, prefix matching.
#include <string>

#include <gtest/gtest.h>

#include "mayfly/identity.h"

namespace mayfly {
namespace ip_address_test {

using namespace std::string_literals;

struct AcceptCase {
  std::string input;
  std::string canonical;
  size_t bytes;
};

const AcceptCase kAccepted[] = {
    {"1.2.3.4", "1.2.3.4", 4},
    {"0.0.0.0", "0.0.0.0", 4},
    {"255.255.255.255", "255.255.255.255", 4},
    {"127.0.0.1", "127.0.0.1", 4},
    {"::", "::", 16},
    {"::1", "::1", 16},
    {"2001:DB8::1", "2001:db8::1", 16},
    {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", 16},
    {"fe80::1", "fe80::1", 16},
    {"::ffff:1.2.3.4", "::ffff:1.2.3.4", 16},  // IPv4-mapped stays IPv6
};

TEST(IpAddressTest, ParsesToCanonicalText) {
  for (const AcceptCase& c : kAccepted) {
    SCOPED_TRACE(c.input);
    auto ip = ParseIpAddress(c.input);
    ASSERT_TRUE(ip.has_value()) << ip.error().ToString();
    EXPECT_EQ(ip->bytes.size(), c.bytes);
    EXPECT_EQ(ip->ToString(), c.canonical);
  }
  EXPECT_EQ(*ParseIpAddress("2001:db8::1"), *ParseIpAddress("2001:DB8:0:0::1"));
  EXPECT_NE(*ParseIpAddress("1.2.3.4"), *ParseIpAddress("::ffff:1.2.3.4"));
}

struct RejectCase {
  std::string input;
  std::string rule;
};

const RejectCase kRejected[] = {
    {"", "is empty"},
    {"1.2.3", "not a valid IPv4"},
    {"1.2.3.4.5", "not a valid IPv4"},
    {"256.1.1.1", "not a valid IPv4"},
    {"01.2.3.4", "not a valid IPv4"},  // leading zeros read as octal by some parsers
    {"1.2.3.4 ", "not a valid IPv4"},
    {" 1.2.3.4", "not a valid IPv4"},
    {"1.2.3.4/32", "not a valid IPv4"},
    {"0x7f.0.0.1", "not a valid IPv4"},
    {"example.com", "not a valid IPv4"},
    {"1.2.3.4\0garbage"s, "NUL"},
    {"fe80::1%eth0", "zone identifiers"},
    {"fe80::1%25eth0", "zone identifiers"},
    {"[::1]", "not a valid IPv6"},
    {"::1::2", "not a valid IPv6"},
    {"12345::", "not a valid IPv6"},
    {"1:2:3:4:5:6:7:8:9", "not a valid IPv6"},
    {"::g", "not a valid IPv6"},
    {std::string(60, '1') + ":", "too long"},
};

TEST(IpAddressTest, RejectsMalformedAddresses) {
  for (const RejectCase& c : kRejected) {
    SCOPED_TRACE(QuoteForMessage(c.input));
    auto ip = ParseIpAddress(c.input);
    ASSERT_FALSE(ip.has_value()) << ip->ToString();
    EXPECT_EQ(ip.error().code, ErrorCode::kInvalidName);
    EXPECT_NE(ip.error().message.find(c.rule), std::string::npos) << ip.error().message;
  }
}

struct CidrCase {
  std::string input;
  std::string canonical;   // "" when the input must be rejected
};

const CidrCase kCidrs[] = {
    {"10.0.0.0/8", "10.0.0.0/8"},
    {"10.1.2.3/8", "10.0.0.0/8"},  // host bits cleared
    {"192.168.1.255/25", "192.168.1.128/25"},
    {"10.0.0.1/31", "10.0.0.0/31"},
    {"0.0.0.0/0", "0.0.0.0/0"},
    {"1.2.3.4", "1.2.3.4/32"},
    {"1.2.3.4/32", "1.2.3.4/32"},
    {"::1", "::1/128"},
    {"fd00::/8", "fd00::/8"},
    {"fdff::1/8", "fd00::/8"},
    {"2001:db8::1/32", "2001:db8::/32"},
    {"2001:db8:ffff::/36", "2001:db8:f000::/36"},
    {"::/0", "::/0"},
    {"10.0.0.0/33", ""},
    {"::/129", ""},
    {"10.0.0.0/", ""},
    {"10.0.0.0/-1", ""},
    {"10.0.0.0/+8", ""},
    {"10.0.0.0/08", ""},
    {"10.0.0.0/8x", ""},
    {"10.0.0.0/ 8", ""},
    {"10.0.0.0/8/8", ""},
    {"10.0.0.0/1000", ""},
    {"/8", ""},
    {"10.0.0/8", ""},
    {"fe80::%eth0/64", ""},
};

TEST(CidrTest, ParsesAndClearsHostBits) {
  for (const CidrCase& c : kCidrs) {
    SCOPED_TRACE(c.input);
    auto cidr = ParseCidr(c.input);
    if (c.canonical.empty()) {
      ASSERT_FALSE(cidr.has_value()) << cidr->ToString();
      EXPECT_EQ(cidr.error().code, ErrorCode::kInvalidName);
      EXPECT_NE(cidr.error().message.find(QuoteForMessage(c.input)), std::string::npos);
    } else {
      ASSERT_TRUE(cidr.has_value()) << cidr.error().ToString();
      EXPECT_EQ(cidr->ToString(), c.canonical);
      EXPECT_EQ(*cidr, *ParseCidr(c.canonical));
    }
  }
}

TEST(CidrTest, ContainsTable) {
  const struct {
    std::string cidr, ip;
    bool contains;
  } cases[] = {
      {"10.0.0.0/8", "10.255.1.1", true},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"10.0.0.0/8", "::ffff:10.0.0.1", false},  // families never mix
      {"0.0.0.0/0", "1.2.3.4", true},
      {"0.0.0.0/0", "::1", false},
      {"::/0", "::1", true},
      {"::/0", "1.2.3.4", false},
      {"192.168.1.128/25", "192.168.1.127", false},
      {"192.168.1.128/25", "192.168.1.128", true},
      {"192.168.1.128/25", "192.168.1.255", true},
      {"1.2.3.4", "1.2.3.4", true},
      {"1.2.3.4", "1.2.3.5", false},
      {"fd00::/8", "fd12::1", true},
      {"fd00::/8", "fe00::1", false},
      {"2001:db8::/33", "2001:db8:7fff::1", true},
      {"2001:db8::/33", "2001:db8:8000::1", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.cidr + " " + c.ip);
    auto cidr = ParseCidr(c.cidr);
    auto ip = ParseIpAddress(c.ip);
    ASSERT_TRUE(cidr.has_value() && ip.has_value());
    EXPECT_EQ(cidr->Contains(*ip), c.contains);
  }
}

}  // namespace ip_address_test
}  // namespace mayfly
