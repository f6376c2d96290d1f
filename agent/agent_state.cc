// The agent's small persisted state: ETags, used-token hashes, status.json.
#include "agent_state.h"

#include <openssl/evp.h>

#include <boost/json.hpp>

#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"

namespace mayfly::agent {

namespace json = boost::json;

namespace {

std::string Str(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}

Result<json::object> ParseObject(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) return std::unexpected(text.error());
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return MakeError(ErrorCode::kIo, path + ": not a JSON object");
  return v.as_object();
}

}  // namespace

ETags LoadETags(const StatePaths& paths) {
  auto o = ParseObject(paths.etags);
  if (!o) return {};
  return ETags{Str(*o, "crl"), Str(*o, "bundle")};
}

Result<void> SaveETags(const StatePaths& paths, const ETags& tags) {
  json::object o{{"crl", tags.crl}, {"bundle", tags.bundle}};
  return WriteFileAtomic(paths.etags, json::serialize(o) + "\n", 0600);
}

std::string TokenHash(const std::string& token) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), md, &len, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
}

bool TokenWasUsed(const StatePaths& paths, const std::string& token) {
  auto text = ReadFile(paths.used_tokens);
  if (!text) return false;
  const std::string hash = TokenHash(token);
  size_t at = 0;
  while (at < text->size()) {
    size_t end = text->find('\n', at);
    if (end == std::string::npos) end = text->size();
    if (text->compare(at, end - at, hash) == 0) return true;
    at = end + 1;
  }
  return false;
}

Result<void> RecordUsedToken(const StatePaths& paths, const std::string& token) {
  std::string text = ReadFile(paths.used_tokens).value_or("");
  text += TokenHash(token) + "\n";
  return WriteFileAtomic(paths.used_tokens, text, 0600);
}

std::string StatusJson(const StatusReport& report) {
  json::array certs;
  for (const CertStatus& c : report.certs) {
    certs.push_back(json::object{{"name", c.name},
                                 {"spiffe_id", c.spiffe_id},
                                 {"serial", c.serial},
                                 {"not_after", c.not_after},
                                 {"next_renewal", c.next_renewal},
                                 {"last_error", c.last_error}});
  }
  json::array servers;
  for (const ServerStatus& s : report.servers) {
    servers.push_back(json::object{{"url", s.url},
                                   {"in_backoff", s.in_backoff},
                                   {"failures", s.failures},
                                   {"retry_at", s.retry_at},
                                   {"last_error", s.last_error}});
  }
  json::object o{{"updated_at", report.updated_at},
                 {"certificates", std::move(certs)},
                 {"crl_error", report.crl_error},
                 {"servers", std::move(servers)}};
  return json::serialize(o);
}

Result<void> SaveStatus(const StatePaths& paths, const StatusReport& report) {
  return WriteFileAtomic(paths.status, StatusJson(report) + "\n", 0644);
}

Result<StatusReport> LoadStatus(const StatePaths& paths) {
  auto o = ParseObject(paths.status);
  if (!o) return std::unexpected(o.error());
  StatusReport report{Str(*o, "updated_at"), {}, Str(*o, "crl_error")};
  auto it = o->find("certificates");
  if (it != o->end() && it->value().is_array()) {
    for (const json::value& v : it->value().as_array()) {
      if (!v.is_object()) continue;
      const json::object& c = v.as_object();
      report.certs.push_back(CertStatus{Str(c, "name"), Str(c, "spiffe_id"), Str(c, "serial"),
                                        Str(c, "not_after"), Str(c, "next_renewal"),
                                        Str(c, "last_error")});
    }
  }
  if (auto s = o->find("servers"); s != o->end() && s->value().is_array()) {
    for (const json::value& v : s->value().as_array()) {
      if (!v.is_object()) continue;
      const json::object& server = v.as_object();
      const json::value* backoff = server.if_contains("in_backoff");
      const json::value* failures = server.if_contains("failures");
      report.servers.push_back(ServerStatus{
          .url = Str(server, "url"),
          .in_backoff = backoff != nullptr && backoff->is_bool() && backoff->as_bool(),
          .failures = failures != nullptr && failures->is_int64() ? static_cast<int>(failures->as_int64()) : 0,
          .retry_at = Str(server, "retry_at"),
          .last_error = Str(server, "last_error")});
    }
  }
  return report;
}

}  // namespace mayfly::agent
