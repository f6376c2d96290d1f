// CA rotation in the daemon: one step at a time (rotation_mu_), after
// catching up with the store; the step itself (which records change, the
// new keys, the audit event) is libca's (mayfly/ca_rotation.h), saved here
// with its audit event and swapped in. docs/rotation.md explains the states.
#include <spdlog/spdlog.h>

#include "ca_runtime.h"
#include "mayfly/ca_layout.h"
#include "mayfly/ca_rotation.h"
#include "mayfly/file_util.h"
#include "mayfly/x509_util.h"

namespace mayfly {
namespace {

constexpr const char* kAutomaticActor = "mayfly-ca (rotate_before)";

}  // namespace

void CaRuntime::SetOnCaChange(std::function<void()> callback) {
  std::lock_guard lock(on_change_mu_);
  on_change_ = std::move(callback);
}

Result<std::map<std::string, int64_t>> CaRuntime::LiveLeaves() {
  return store_->CountLiveByIssuer(ToUnixSeconds(clock_.Now()));
}

Result<void> CaRuntime::SaveAndSwap(std::vector<CaCertRecord> changed, AuditEvent event) {
  auto saved = store_->SaveCaCerts(std::move(changed), event);
  if (!saved) return WithContext(saved.error(), "saving the rotation step");
  AuditLog::LogLine(event);
  auto records = store_->ListCaCerts();
  Result<void> adopted = records ? AdoptCaRecords(std::move(*records)) : Result<void>(std::unexpected(records.error()));
  AppliedOwnChange(adopted, "taking up the saved rotation step");
  return adopted;
}

Result<bool> CaRuntime::CatchUpWithStore() {
  auto records = store_->ListCaCerts();
  if (!records) return WithContext(records.error(), "reading the CA certificates");
  if (*records == ca()->records) return false;
  spdlog::info("the CA certificates changed in the store (another instance's rotation step); following");
  if (auto r = AdoptCaRecords(std::move(*records)); !r) return std::unexpected(r.error());
  return true;
}

Result<void> CaRuntime::AdoptCaRecords(std::vector<CaCertRecord> records) {
  auto view = BuildCaView(std::move(records), state_dir_, passphrase_file_, issuer_options_, clock_, ca().get());
  if (!view) return WithContext(view.error(), "loading the CA certificates");
  const std::string bundle = (*view)->bundle_pem;
  {
    std::lock_guard lock(view_mu_);
    view_ = std::move(*view);
  }
  if (auto r = crl_->Regenerate(); !r) spdlog::error("{}", r.error().ToString());
  // root.pem is the trust bundle operators and the admin CLI read.
  const std::string root_pem = CaPaths::For(state_dir_).root_cert;
  if (ReadFile(root_pem).value_or("") != bundle) {
    if (auto r = WriteFileAtomic(root_pem, bundle, 0644); !r) spdlog::error("updating {}: {}", root_pem, r.error().message);
  }
  std::function<void()> callback;
  {
    std::lock_guard lock(on_change_mu_);
    callback = on_change_;
  }
  if (callback) callback();
  return Ok();
}

Result<std::string> CaRuntime::WithRotationLock(const std::function<Result<std::string>()>& step) {
  std::lock_guard lock(rotation_mu_);
  if (auto r = CatchUpWithStore(); !r) return std::unexpected(r.error());
  return step();
}

Result<std::string> CaRuntime::PrepareCa(bool root, const std::string& actor) {
  return WithRotationLock([&] { return PrepareLocked(root, actor); });
}

Result<std::string> CaRuntime::ActivateCa(const std::string& actor) {
  return WithRotationLock([&] { return ActivateLocked(actor); });
}

Result<std::string> CaRuntime::RetireCa(const std::string& actor) {
  return WithRotationLock([&] { return RetireLocked(actor, /*quiet=*/false); });
}

RotationOptions CaRuntime::RotationOptionsNow() {
  const auto config = this->config();
  return RotationOptions{.clock = &clock_,
                         .state_dir = state_dir_,
                         .passphrase_file = passphrase_file_,
                         .keys_in_store = keys_in_store_,
                         .key_type = config->ca.key_type,
                         .trust_domain = trust_domain_,
                         .root_ttl = config->ca.root_ttl,
                         .intermediate_ttl = config->ca.intermediate_ttl,
                         .constraints = NameConstraintsFor(*config),
                         .jwt_max_ttl = config->jwt.max_ttl,
                         .next_crl_number = [store = store_.get()] { return store->NextCrlNumber(); }};
}

Result<std::string> CaRuntime::SaveStep(Result<RotationStep> step) {
  if (!step) return std::unexpected(step.error());
  if (auto r = SaveAndSwap(std::move(step->changed), std::move(step->event)); !r) return std::unexpected(r.error());
  step->keys.Keep();
  return std::move(step->message);
}

Result<std::string> CaRuntime::PrepareLocked(bool root, const std::string& actor) {
  return SaveStep(PrepareStep(*ca(), root, actor, RotationOptionsNow()));
}

Result<std::string> CaRuntime::ActivateLocked(const std::string& actor) {
  return SaveStep(ActivateStep(*ca(), actor, RotationOptionsNow()));
}

Result<std::string> CaRuntime::RetireLocked(const std::string& actor, bool quiet) {
  const auto view = ca();
  auto live = LiveLeaves();
  if (!live) return std::unexpected(live.error());
  auto step = RetireStep(*view, *live, actor, RotationOptionsNow());
  // Nothing to retire (kConflict) is no news on the automatic schedule.
  if (!step && quiet && step.error().code == ErrorCode::kConflict) return std::string();
  return SaveStep(std::move(step));
}

Result<std::string> CaRuntime::RotateCaNow(bool revoke_old, const std::string& actor) {
  return WithRotationLock([&] { return SaveStep(RotateNowStep(*ca(), revoke_old, actor, RotationOptionsNow())); });
}

Result<void> CaRuntime::EnsureJwtKey() {
  // Every start after the first: the view already has one, no store read.
  if (ca()->Active(CaRole::kJwt) != nullptr) return Ok();
  std::lock_guard lock(rotation_mu_);
  if (auto r = CatchUpWithStore(); !r) return std::unexpected(r.error());
  const auto view = ca();
  if (view->Active(CaRole::kJwt) != nullptr) return Ok();
  auto step = JwtKeyStep(*view, RotationOptionsNow());
  if (!step) return std::unexpected(step.error());
  if (auto r = SaveAndSwap(std::move(step->changed), std::move(step->event)); !r) {
    // Another instance on the same store made one at the same moment.
    if (r.error().code != ErrorCode::kConflict) return r;
    if (auto caught_up = CatchUpWithStore(); !caught_up) return std::unexpected(caught_up.error());
  }
  step->keys.Keep();
  return Ok();
}

Result<void> CaRuntime::MaintainRotation() {
  std::lock_guard lock(rotation_mu_);
  const auto config = this->config();
  if (!config->ca.auto_rotate) return Ok();
  if (auto r = CatchUpWithStore(); !r) return std::unexpected(r.error());
  const auto view = ca();
  Result<std::string> step = std::string();
  switch (NextAutomaticStep(*view, config->ca.rotate_before, clock_.Now())) {
    case AutomaticRotation::kRootExpiring:
      spdlog::warn("the active root expires at {}, within [ca] rotate_before: rotate the root (mayfly-ca ca prepare "
                   "--root, then ca activate); automatic intermediate rotation is paused",
                   FormatRfc3339(FromUnixSeconds(view->Active(CaRole::kRoot)->not_after)));
      return Ok();
    case AutomaticRotation::kPrepare:
      step = PrepareLocked(false, kAutomaticActor);
      break;
    case AutomaticRotation::kActivate:
      step = ActivateLocked(kAutomaticActor);
      break;
    case AutomaticRotation::kRetire:
      step = RetireLocked(kAutomaticActor, /*quiet=*/true);
      break;
  }
  if (!step) return std::unexpected(step.error());
  if (!step->empty()) spdlog::info("automatic CA rotation: {}", *step);
  return Ok();
}

}  // namespace mayfly
