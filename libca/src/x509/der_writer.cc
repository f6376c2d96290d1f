// Minimal DER encoding.
#include "der_writer.h"

#include <ctime>

namespace mayfly::der {

void AppendTlv(std::string& out, uint8_t tag, std::string_view content) {
  out.push_back(static_cast<char>(tag));
  size_t len = content.size();
  if (len < 0x80) {
    out.push_back(static_cast<char>(len));
  } else {
    int bytes = len <= 0xff ? 1 : len <= 0xffff ? 2 : len <= 0xffffff ? 3 : 4;
    out.push_back(static_cast<char>(0x80 | bytes));
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  }
  out.append(content);
}

std::string Tlv(uint8_t tag, std::string_view content) {
  std::string out;
  out.reserve(content.size() + 6);
  AppendTlv(out, tag, content);
  return out;
}

std::string PositiveInteger(std::string_view magnitude) {
  while (magnitude.size() > 1 && magnitude.front() == 0) magnitude.remove_prefix(1);
  std::string content;
  if (magnitude.empty() || (static_cast<uint8_t>(magnitude.front()) & 0x80) != 0) content.push_back(0);
  content.append(magnitude);
  return Tlv(kInteger, content);
}

std::string Time(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[20];
  int year = tm.tm_year + 1900;
  if (year >= 1950 && year < 2050) {
    std::strftime(buf, sizeof buf, "%y%m%d%H%M%SZ", &tm);
    return Tlv(kUtcTime, buf);
  }
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%SZ", &tm);
  return Tlv(kGeneralizedTime, buf);
}

std::string Extension(std::string_view oid_tlv, bool critical, std::string_view value_der) {
  std::string content(oid_tlv);
  if (critical) content.append("\x01\x01\xff", 3);
  AppendTlv(content, kOctetString, value_der);
  return Tlv(kSequence, content);
}

}  // namespace mayfly::der
