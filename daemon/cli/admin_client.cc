// The admin commands' connection to the daemon.
#include "admin_client.h"

#include <iostream>

#include "mayfly/ca_layout.h"
#include "mayfly/config.h"
#include "mayfly/file_util.h"
#include "mayfly/keys.h"
#include "mayfly/net/api_wire.h"
#include "mayfly/net/tls_context.h"

namespace mayfly::cli {

std::string JsonString(const boost::json::object& obj, std::string_view key) {
  const boost::json::value* v = obj.if_contains(key);
  if (v == nullptr) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_null()) return "";
  return boost::json::serialize(*v);
}

Result<AdminClient> AdminClient::Connect(const GlobalOptions& global) {
  if (!global.server.empty()) {
    if (global.cert.empty() || global.key.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "--server needs --cert and --key (an admin credential)");
    }
    std::string bundle_path = global.ca_bundle;
    if (bundle_path.empty()) {
      auto config = LoadCaConfig(global.config);
      if (!config) return MakeError(ErrorCode::kInvalidArgument, "--server needs --ca-bundle (the root PEM) or a readable --config");
      bundle_path = CaPaths::For(config->state_dir).root_cert;
    }
    auto trust = ReadFile(bundle_path);
    auto chain = ReadFile(global.cert);
    if (auto r = CheckPrivate(global.key, "--key"); !r) return std::unexpected(r.error());
    auto key = LoadKeyFile(global.key);
    if (!trust) return std::unexpected(trust.error());
    if (!chain) return std::unexpected(chain.error());
    if (!key) return std::unexpected(key.error());
    // The daemon must prove it is the CA of the admin certificate's own
    // trust domain (spiffe://<td>/mayfly/ca), not merely some certificate
    // of that CA naming the server's host.
    auto ca = net::CaIdentityOf(*chain, "--cert " + global.cert);
    if (!ca) return std::unexpected(ca.error());
    net::ClientTlsConfig tls;
    tls.trust_pem = *trust;
    tls.cert_chain_pem = *chain;
    tls.key = key->get();
    auto ctx = net::MakeClientTlsContext(tls);
    if (!ctx) return std::unexpected(ctx.error());
    auto client = net::HttpClient::ForUrl(global.server, *ctx, {.server_identity = std::move(*ca)});
    if (!client) return std::unexpected(client.error());
    return AdminClient(std::move(*client));
  }
  std::string socket = global.socket;
  if (socket.empty()) {
    auto config = LoadCaConfig(global.config);
    if (!config) return WithContext(config.error(), "finding the admin socket (or pass --socket)");
    socket = config->admin_socket;
  }
  auto client = net::HttpClient::ForUnixSocket(socket);
  if (!client) return std::unexpected(client.error());
  return AdminClient(std::move(*client));
}

Result<boost::json::value> AdminClient::Call(const std::string& method, const std::string& target,
                                             const std::optional<boost::json::value>& body) {
  std::string payload = body ? boost::json::serialize(*body) : "";
  auto response = client_.Request(method, target, payload, {{"Content-Type", "application/json"}});
  if (!response) return std::unexpected(response.error());
  if (response->status < 200 || response->status >= 300) {
    return std::unexpected(net::ReadApiError(*response, method + " " + target).error);
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(response->body, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "the daemon answered with malformed JSON");
  return v;
}

Result<std::string> AdminClient::Get(const std::string& target) {
  auto response = client_.Request("GET", target);
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) return std::unexpected(net::ReadApiError(*response, "GET " + target).error);
  return response->body;
}

std::string InFlagTerms(std::string message, const FieldFlags& flags) {
  for (const auto& [field, flag] : flags) {
    const std::string quoted = "field \"" + field + "\"";
    for (size_t at = message.find(quoted); at != std::string::npos; at = message.find(quoted, at + flag.size())) {
      message.replace(at, quoted.size(), flag);
    }
  }
  return message;
}

int RunAdminCall(const GlobalOptions& global, const std::string& method, const std::string& target,
                 const std::optional<boost::json::value>& body,
                 const std::function<void(const boost::json::object&)>& print, const FieldFlags& flags) {
  auto client = AdminClient::Connect(global);
  if (!client) return Fail(client.error().message);
  auto answer = client->Call(method, target, body);
  if (!answer) return Fail(InFlagTerms(answer.error().message, flags));
  if (global.json || !answer->is_object()) {
    std::cout << boost::json::serialize(*answer) << "\n";
  } else {
    print(answer->as_object());
  }
  return 0;
}

std::string Query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    auto encoded = net::PercentEncode(v);
    q += (q.empty() ? "?" : "&") + k + "=" + encoded.value_or(v);
  }
  return q;
}

}  // namespace mayfly::cli
