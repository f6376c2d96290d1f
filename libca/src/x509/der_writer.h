// Minimal DER encoding for the pieces of a certificate Mayfly assembles
// itself on the issuance hot path (internal to libca).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mayfly::der {

inline constexpr uint8_t kInteger = 0x02;
inline constexpr uint8_t kBitString = 0x03;
inline constexpr uint8_t kOctetString = 0x04;
inline constexpr uint8_t kUtf8String = 0x0c;
inline constexpr uint8_t kUtcTime = 0x17;
inline constexpr uint8_t kGeneralizedTime = 0x18;
inline constexpr uint8_t kSequence = 0x30;
inline constexpr uint8_t kSet = 0x31;
inline constexpr uint8_t kContext0 = 0xa0;   // [0] constructed
inline constexpr uint8_t kContext3 = 0xa3;   // [3] constructed
inline constexpr uint8_t kGeneralNameDns = 0x82;  // [2] IMPLICIT IA5String
inline constexpr uint8_t kGeneralNameUri = 0x86;  // [6] IMPLICIT IA5String
inline constexpr uint8_t kGeneralNameIp = 0x87;   // [7] IMPLICIT OCTET STRING

// Appends tag, definite length and content.
void AppendTlv(std::string& out, uint8_t tag, std::string_view content);
std::string Tlv(uint8_t tag, std::string_view content);

// A positive INTEGER from big-endian magnitude bytes (leading zeros dropped,
// a 0x00 added when the top bit is set).
std::string PositiveInteger(std::string_view magnitude);

// RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
std::string Time(int64_t unix_seconds);

// Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }.
// `oid_tlv` is the full encoded OBJECT IDENTIFIER.
std::string Extension(std::string_view oid_tlv, bool critical, std::string_view value_der);

}  // namespace mayfly::der
