// Converts between Beast's HTTP messages and Mayfly's request/response types.
#include "http_message.h"

#include <algorithm>
#include <cctype>
#include <string>

#include <boost/beast/http/field.hpp>

#include "mayfly/net/query.h"

namespace mayfly::net {
namespace {

namespace http = boost::beast::http;

// Header names are case-insensitive; Mayfly hands them out lowercased.
std::string Lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

Result<HttpRequest> FromBeastRequest(BeastRequest& req) {
  std::string_view target = req.target();
  if (target.empty() || target.front() != '/') {
    return MakeError(ErrorCode::kInvalidArgument, "the request target must be a path");
  }
  HttpRequest request;
  request.method = std::string(req.method_string());
  size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) {
    auto query = ParseQuery(target.substr(question + 1));
    if (!query) return std::unexpected(query.error());
    request.query = std::move(*query);
  }
  for (const auto& field : req) {
    auto [it, inserted] = request.headers.emplace(Lowercase(field.name_string()), std::string(field.value()));
    // Repeated fields combine into one comma-separated value (RFC 9110 5.3).
    if (!inserted) it->second.append(", ").append(field.value());
  }
  request.body = std::move(req.body());
  return request;
}

BeastResponse ToBeastResponse(HttpResponse response, unsigned version) {
  unsigned status = response.status;
  if (status < 100 || status > 599) status = 500;
  BeastResponse res;
  res.version(version);
  res.result(status);
  res.set(http::field::server, "mayfly");
  if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || HasLineBreak(name) || HasLineBreak(value)) continue;
    res.set(name, value);
  }
  res.body() = std::move(response.body);
  return res;
}

HttpResponse FromBeastResponse(BeastResponse& res) {
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type.clear();
  for (const auto& field : res) {
    std::string name = Lowercase(field.name_string());
    if (name == "content-type") out.content_type = std::string(field.value());
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  out.body = std::move(res.body());
  return out;
}

}  // namespace mayfly::net
