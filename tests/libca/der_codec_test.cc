// The DER reader and writer that the issuance hot path uses instead of
// OpenSSL's template codec: table-driven, each encoding checked against the
// bytes DER requires and read back by OpenSSL where it has a parser.
#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "der_reader.h"
#include "der_writer.h"
#include "mayfly/ossl_ptr.h"

namespace mayfly {
namespace der_codec_test {

using namespace std::string_literals;

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

struct ReadCase {
  const char* name;
  std::string bytes;
  bool well_formed;         // one element, read whole
  size_t content_size = 0;  // when well formed
};

TEST(DerReaderTest, AcceptsOnlyDerLengths) {
  const ReadCase cases[] = {
      {"empty content", "\x04\x00"s, true, 0},
      {"short form, 127", "\x04\x7f"s + std::string(127, 'a'), true, 127},
      {"long form, 128", "\x04\x81\x80"s + std::string(128, 'a'), true, 128},
      {"long form, 256", "\x04\x82\x01\x00"s + std::string(256, 'a'), true, 256},
      {"long form for a short length", "\x04\x81\x05"s + "abcde", false},
      {"leading zero length byte", "\x04\x82\x00\x80"s + std::string(128, 'a'), false},
      {"indefinite length", "\x30\x80\x04\x00\x00\x00"s, false},
      {"five length bytes", "\x04\x85\x00\x00\x00\x00\x01"s + "a", false},
      {"content past the end", "\x04\x05" "abc"s, false},
      {"long-form length past the end", "\x04\x82\x01"s, false},
      {"high tag number", "\x1f\x81\x01\x00"s, false},
      {"lone tag", "\x04"s, false},
  };
  for (const ReadCase& c : cases) {
    der::Reader reader(c.bytes);
    auto element = reader.NextAny();
    EXPECT_EQ(element.has_value() && reader.Done(), c.well_formed) << c.name;
    if (c.well_formed && element) {
      EXPECT_EQ(element->content.size(), c.content_size) << c.name;
      EXPECT_EQ(element->encoded, c.bytes) << c.name;
    }
    if (!c.well_formed) {
      EXPECT_TRUE(reader.failed()) << c.name;
    }
  }
}

TEST(DerReaderTest, TagsOptionalFieldsAndFailureStick) {
  const std::string bytes = "\x02\x01\x05\x04\x02hi\x05\x00"s;
  der::Reader reader(bytes);
  EXPECT_FALSE(reader.NextIf(der::kBoolean));  // absent OPTIONAL: nothing consumed, no failure
  EXPECT_FALSE(reader.failed());
  auto integer = reader.NextIf(der::kInteger);
  ASSERT_TRUE(integer);
  EXPECT_EQ(integer->content, "\x05");
  EXPECT_FALSE(reader.Next(der::kNull));  // the next element is an OCTET STRING: the reader fails
  EXPECT_TRUE(reader.failed());
  EXPECT_FALSE(reader.NextAny());          // and stays failed, though well-formed bytes follow
  EXPECT_FALSE(reader.Done());
}

TEST(DerWriterTest, LengthsRoundTripAtEveryBoundary) {
  for (size_t size : {0u, 1u, 127u, 128u, 255u, 256u, 65535u, 65536u, 16777215u, 16777216u}) {
    const std::string content(size, 'x');
    const std::string tlv = der::Tlv(der::kOctetString, content);
    der::Reader reader(tlv);
    auto element = reader.Next(der::kOctetString);
    ASSERT_TRUE(element) << size;
    EXPECT_TRUE(reader.Done()) << size;
    EXPECT_EQ(element->content.size(), size);
    // OpenSSL's own parser agrees on every length.
    const auto* p = reinterpret_cast<const unsigned char*>(tlv.data());
    OsslPtr<ASN1_OCTET_STRING> parsed(d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(tlv.size())));
    ASSERT_TRUE(parsed) << size;
    EXPECT_EQ(static_cast<size_t>(ASN1_STRING_length(parsed.get())), size);
  }
}

TEST(DerWriterTest, PositiveIntegers) {
  const struct {
    std::string magnitude;
    const char* want_hex;
  } cases[] = {
      {"", "020100"},
      {"\x00"s, "020100"},
      {"\x01"s, "020101"},
      {"\x7f"s, "02017f"},
      {"\x80"s, "02020080"},           // top bit set: a 0x00 keeps it positive
      {"\x00\x00\x80"s, "02020080"},   // leading zeros dropped first
      {"\x00\x01\x00"s, "02020100"},
      {std::string(16, '\xff'), "021100ffffffffffffffffffffffffffffffff"},
  };
  for (const auto& c : cases) {
    const std::string der = der::PositiveInteger(c.magnitude);
    EXPECT_EQ(Hex(der), c.want_hex) << Hex(c.magnitude);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    OsslPtr<ASN1_INTEGER> parsed(d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(parsed) << Hex(c.magnitude);
    EXPECT_EQ(ASN1_STRING_type(parsed.get()), V_ASN1_INTEGER) << "positive";
  }
}

TEST(DerWriterTest, TimesSwitchToGeneralizedIn2050) {
  const struct {
    int64_t unix_seconds;
    const char* want;
  } cases[] = {
      {0, "\x17\x0d" "700101000000Z"},
      {1764547200, "\x17\x0d" "251201000000Z"},
      {2524607999, "\x17\x0d" "491231235959Z"},   // last second of UTCTime
      {2524608000, "\x18\x0f" "20500101000000Z"},  // RFC 5280: GeneralizedTime from 2050
      {-631152001, "\x18\x0f" "19491231235959Z"},  // before 1950, too
  };
  for (const auto& c : cases) {
    const std::string der = der::Time(c.unix_seconds);
    EXPECT_EQ(der, c.want) << c.unix_seconds;
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    OsslPtr<ASN1_TIME> parsed(d2i_ASN1_TIME(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(parsed) << c.unix_seconds;
    EXPECT_EQ(ASN1_TIME_cmp_time_t(parsed.get(), static_cast<time_t>(c.unix_seconds)), 0) << c.unix_seconds;
  }
}

TEST(DerWriterTest, ExtensionsParseWithTheirCriticalFlag) {
  // basicConstraints CA:FALSE (an empty SEQUENCE), once critical, once not.
  const std::string oid = "\x06\x03\x55\x1d\x13"s;
  for (bool critical : {true, false}) {
    const std::string der = der::Extension(oid, critical, "\x30\x00"s);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    OsslPtr<X509_EXTENSION> ext(d2i_X509_EXTENSION(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(ext) << critical;
    EXPECT_EQ(OBJ_obj2nid(X509_EXTENSION_get_object(ext.get())), NID_basic_constraints);
    EXPECT_EQ(X509_EXTENSION_get_critical(ext.get()), critical ? 1 : 0);
    // DEFAULT FALSE is left out, as DER requires, rather than encoded.
    EXPECT_EQ(der.find("\x01\x01\x00"s), std::string::npos);
  }
}

}  // namespace der_codec_test
}  // namespace mayfly
