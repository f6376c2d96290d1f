// Percent-encoding, query strings and host:port.
#include "mayfly/net/query.h"

#include <gtest/gtest.h>

namespace mayfly::net {
namespace query_test {

TEST(QueryTest, PercentEncodeKeepsOnlyUnreservedCharacters) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"", ""},
      {"abcXYZ019-._~", "abcXYZ019-._~"},
      {"spiffe://example.org/ns/prod/web", "spiffe%3A%2F%2Fexample.org%2Fns%2Fprod%2Fweb"},
      {"a b+c&d=e?f#g%", "a%20b%2Bc%26d%3De%3Ff%23g%25"},
      {std::string("\x00\xff", 2), "%00%FF"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(PercentEncode(c.in).value(), c.out) << c.in;
    EXPECT_EQ(PercentDecode(c.out, true).value(), c.in) << c.out;
  }
}

TEST(QueryTest, PercentDecodeRefusesBrokenEscapes) {
  for (const char* bad : {"%", "%4", "%zz", "a%g1", "%%41"}) {
    auto r = PercentDecode(bad, false);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(PercentDecode("a+b%2b", true).value(), "a b+");
  EXPECT_EQ(PercentDecode("a+b", false).value(), "a+b");
}

TEST(QueryTest, ParseQuery) {
  auto q = ParseQuery("spiffe_id=spiffe%3A%2F%2Fexample.org%2Fa&format=pem&&flag&empty=").value();
  EXPECT_EQ(q.size(), 4u);
  EXPECT_EQ(q["spiffe_id"], "spiffe://example.org/a");
  EXPECT_EQ(q["format"], "pem");
  EXPECT_EQ(q["flag"], "");
  EXPECT_EQ(q["empty"], "");
  EXPECT_TRUE(ParseQuery("").value().empty());
  EXPECT_FALSE(ParseQuery("a=1&a=2").has_value()) << "a repeated key is ambiguous";
  EXPECT_FALSE(ParseQuery("a=%").has_value());
  EXPECT_FALSE(ParseQuery("a%2=1").has_value());
  // A query inside a request, not followed by a NUL: each value ends where
  // the query does.
  const std::string request_line = "/v1/crl?format=pem&b=1 HTTP/1.1\r\nHost: x\r\n";
  auto in_line = ParseQuery(std::string_view(request_line).substr(8, 14)).value();
  EXPECT_EQ(in_line, (std::map<std::string, std::string>{{"format", "pem"}, {"b", "1"}}));
  auto plus = ParseQuery("a+b=c+d%2B").value();
  EXPECT_EQ(plus, (std::map<std::string, std::string>{{"a b", "c d+"}})) << "form encoding: '+' is a space";
}

TEST(QueryTest, ParseHostPort) {
  struct Case {
    const char* text;
    const char* host;
    uint16_t port;
  } good[] = {
      {"127.0.0.1:0", "127.0.0.1", 0},
      {"0.0.0.0:8443", "0.0.0.0", 8443},
      {"[::1]:9443", "::1", 9443},
      {"ca.internal:65535", "ca.internal", 65535},
  };
  for (const auto& c : good) {
    auto hp = ParseHostPort(c.text, true);
    ASSERT_TRUE(hp.has_value()) << c.text;
    EXPECT_EQ(hp->host, c.host);
    EXPECT_EQ(hp->port, c.port);
  }
  for (const char* bad : {"", "host", ":80", "host:", "host:65536", "host:-1", "host:8o", "::1:80", "[::1]",
                          "[::1]80"}) {
    EXPECT_FALSE(ParseHostPort(bad, true).has_value()) << bad;
  }
  EXPECT_FALSE(ParseHostPort("host:0", false).has_value());
}

}  // namespace query_test
}  // namespace mayfly::net
