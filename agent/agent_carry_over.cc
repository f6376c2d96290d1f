// What a pass run in a child process hands back to the long-lived agent:
// the state that must outlive the pass (jittered due times, pending hooks,
// the refresh and backoff clocks, each CA server's back-off) and when to come
// back. JSON over a pipe.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "agent.h"

namespace mayfly::agent {

namespace json = boost::json;

namespace {

int64_t Micros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

TimePoint FromMicros(int64_t us) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(us)));
}

std::unexpected<Error> Malformed(const std::string& why) {
  return MakeError(ErrorCode::kInternal, "the pass process sent malformed state: " + why);
}

}  // namespace

std::string Agent::CarryOver(const PassResult& result) const {
  json::object due;
  for (const auto& [serial, when] : due_) due[serial] = Micros(when);
  json::array hooks;
  for (const std::string& cert : hooks_pending_) hooks.push_back(json::string(cert));
  json::array servers;
  for (const ServerState& s : servers_->states()) {
    servers.push_back(json::object{{"url", s.url},
                                   {"failures", s.failures},
                                   {"retry_at", Micros(s.retry_at)},
                                   {"last_error", s.last_error}});
  }
  json::array problems;
  for (const std::string& error : result.errors) problems.push_back(json::string(error));
  return json::serialize(json::object{{"next_wake", Micros(result.next_wake)},
                                      {"problems", std::move(problems)},
                                      {"due", std::move(due)},
                                      {"hooks_pending", std::move(hooks)},
                                      {"crl_hook_pending", crl_hook_pending_},
                                      {"bundle_hook_pending", bundle_hook_pending_},
                                      {"next_refresh", Micros(next_refresh_)},
                                      {"failures", failures_},
                                      {"servers", std::move(servers)}});
}

Result<PassResult> Agent::TakeCarryOver(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Malformed(ec ? ec.message() : "not a JSON object");
  const json::object& o = v.as_object();
  try {
    std::map<std::string, TimePoint> due;
    for (const auto& [serial, when] : o.at("due").as_object()) due.emplace(serial, FromMicros(when.as_int64()));
    std::set<std::string> hooks;
    for (const json::value& cert : o.at("hooks_pending").as_array()) hooks.emplace(cert.as_string());
    std::vector<ServerState> servers;
    for (const json::value& s : o.at("servers").as_array()) {
      const json::object& server = s.as_object();
      servers.push_back({.url = std::string(server.at("url").as_string()),
                         .failures = static_cast<int>(server.at("failures").as_int64()),
                         .retry_at = FromMicros(server.at("retry_at").as_int64()),
                         .last_error = std::string(server.at("last_error").as_string())});
    }
    PassResult result;
    result.next_wake = FromMicros(o.at("next_wake").as_int64());
    for (const json::value& error : o.at("problems").as_array()) result.errors.emplace_back(error.as_string());
    due_ = std::move(due);
    hooks_pending_ = std::move(hooks);
    crl_hook_pending_ = o.at("crl_hook_pending").as_bool();
    bundle_hook_pending_ = o.at("bundle_hook_pending").as_bool();
    next_refresh_ = FromMicros(o.at("next_refresh").as_int64());
    failures_ = static_cast<int>(o.at("failures").as_int64());
    servers_->Restore(servers);
    return result;
  } catch (const std::exception& e) {
    return Malformed(e.what());
  }
}

TimePoint Agent::PassDied() {
  // Nothing of the pass is known: back off as after any failed pass.
  return NextWake(true, clock_.Now());
}

void Agent::ReseedJitter() {
  rng_.seed(std::random_device{}());
  servers_->ReseedJitter();
}

}  // namespace mayfly::agent
