// How the admin commands reach the running daemon's admin API.
#pragma once

#include <boost/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "mayfly/error.h"
#include "mayfly/net/client.h"

namespace mayfly::cli {

class AdminClient {
 public:
  // Over --server with --cert/--key (mTLS with an admin certificate) when
  // --server is given; the server must then chain to --ca-bundle (or the
  // config's root) and carry spiffe://<td>/mayfly/ca, <td> being the admin
  // certificate's trust domain. Else over the unix socket from --socket or
  // the config's admin_socket.
  [[nodiscard]] static Result<AdminClient> Connect(const GlobalOptions& global);

  // Sends a JSON request. A non-2xx answer becomes an Error carrying the
  // API's error code and message.
  [[nodiscard]] Result<boost::json::value> Call(const std::string& method, const std::string& target,
                                                const std::optional<boost::json::value>& body = std::nullopt);
  // The raw body of a GET (PEM downloads).
  [[nodiscard]] Result<std::string> Get(const std::string& target);

 private:
  explicit AdminClient(net::HttpClient client) : client_(std::move(client)) {}
  net::HttpClient client_;
};

// Runs one admin call and hands the answer to `print`, or prints the JSON
// with --json; returns the exit code (1 with one line on stderr on failure).
// The API names a bad value by its JSON field (`field "ttl": ...`); a
// command says which flag set each field, so its errors name the flag the
// user typed (`--ttl: ...`).
using FieldFlags = std::vector<std::pair<std::string, std::string>>;
std::string InFlagTerms(std::string message, const FieldFlags& flags);

int RunAdminCall(const GlobalOptions& global, const std::string& method, const std::string& target,
                 const std::optional<boost::json::value>& body,
                 const std::function<void(const boost::json::object&)>& print, const FieldFlags& flags = {});

// "?k=v&..." from the pairs whose value is not empty, percent-encoded; ""
// when none is.
std::string Query(const std::vector<std::pair<std::string, std::string>>& params);

// JSON helpers for printing: a string member, or "" when absent.
std::string JsonString(const boost::json::object& obj, std::string_view key);

}  // namespace mayfly::cli
