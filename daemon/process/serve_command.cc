// `mayfly-ca serve`: the daemon. Loads the CA, issues its own TLS server
// certificate, listens on the mTLS API, the admin socket and the metrics
// port, refreshes the CRL on a timer, reloads on SIGHUP and drains on SIGTERM.
#include "serve_command.h"

#include <boost/asio.hpp>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <functional>
#include <mutex>
#include <thread>

#include "api_service.h"
#include "ca_runtime.h"
#include "commands.h"
#include "mayfly/config.h"
#include "mayfly/file_util.h"
#include "mayfly/heap_tuning.h"
#include "mayfly/identity.h"
#include "mayfly/net/server.h"
#include "mayfly/net/tls_context.h"
#include "store_follower.h"
#include "store_worker.h"
#include "systemd_notify.h"

namespace mayfly::cli {
namespace {

namespace asio = boost::asio;

Result<net::ServerOptions> ServerOptionsFrom(const CaConfig& config) {
  net::ServerOptions options;
  options.max_body = config.limits.max_body;
  options.max_connections = config.limits.max_connections;
  options.max_connections_per_ip = config.limits.max_connections_per_ip;
  options.handshake_timeout = config.limits.handshake_timeout;
  options.header_timeout = config.limits.header_timeout;
  options.body_timeout = config.limits.body_timeout;
  options.idle_timeout = config.limits.idle_timeout;
  for (const auto& text : config.limits.allow_cidrs) {
    auto cidr = ParseCidr(text);
    if (!cidr) return WithContext(cidr.error(), "[limits] allow_cidrs");
    options.allow_cidrs.push_back(*cidr);
  }
  return options;
}

// A fresh server certificate and the TLS context that serves it.
struct ServerTls {
  std::shared_ptr<net::ssl::context> context;
  TimePoint renew_at;
};

Result<ServerTls> MakeServerTls(CaRuntime& runtime, const CaConfig& config) {
  auto cert = runtime.IssueServerCertificate(config.server_names);
  if (!cert) return WithContext(cert.error(), "issuing the daemon's server certificate");
  net::ServerTlsConfig tls;
  tls.cert_chain_pem = cert->cert_chain_pem;
  tls.key = cert->key.get();
  const auto view = runtime.ca();
  tls.client_trust_pem = view->client_trust_pem;
  tls.client_recovery_pem = view->client_recovery_pem;
  tls.min_version = config.tls.min_version;
  auto context = net::MakeServerTlsContext(tls);
  if (!context) return std::unexpected(context.error());
  TimePoint now = runtime.clock().Now();
  return ServerTls{*context, now + (cert->not_after - now) / 2};
}

// Owns everything a running daemon has, so one place orders start and stop.
class Daemon {
 public:
  Daemon(std::string config_path, CaConfig config, std::unique_ptr<CaRuntime> runtime)
      : config_path_(std::move(config_path)), config_(std::move(config)), runtime_(std::move(runtime)),
        service_(*runtime_, store_worker_), signals_(ioc_, SIGTERM, SIGINT, SIGHUP), crl_timer_(ioc_),
        cert_timer_(ioc_), watchdog_timer_(ioc_) {}

  Result<void> Start() {
    auto options = ServerOptionsFrom(config_);
    if (!options) return std::unexpected(options.error());
    auto server = net::Server::Create(ioc_, *options, [this](net::HttpRequest request, net::Respond respond) {
      if (request.peer.listener == net::Listener::kMetrics && request.path == "/metrics") {
        respond(net::HttpResponse{200, "text/plain; version=0.0.4", MetricsText(), {}});
        return;
      }
      service_.Handle(std::move(request), std::move(respond));
    });
    if (!server) return std::unexpected(server.error());
    server_ = std::move(*server);

    auto tls = MakeServerTls(*runtime_, config_);
    if (!tls) return std::unexpected(tls.error());
    auto api_port = server_->ListenTls(config_.listen, tls->context);
    if (!api_port) return WithContext(api_port.error(), "listen = \"" + config_.listen + "\"");
    auto socket_dir = std::filesystem::path(config_.admin_socket).parent_path().string();
    if (!socket_dir.empty() && !std::filesystem::exists(socket_dir)) {
      if (auto r = EnsureDirectory(socket_dir, 0700); !r) return std::unexpected(r.error());
    }
    // A refused peer is audited: someone on this host tried the CA's controls.
    auto refused = [rt = runtime_.get(), path = config_.admin_socket](uint32_t uid, int32_t pid) {
      rt->audit().Record(AuditEvent{.time = ToUnixSeconds(rt->clock().Now()), .type = "admin_refused",
                                    .actor = "uid:" + std::to_string(uid), .subject = path,
                                    .result = std::string(ErrorCodeName(ErrorCode::kForbidden)),
                                    .detail = AuditDetail({{"uid", std::to_string(uid)},
                                                           {"pid", std::to_string(pid)}})});
    };
    if (auto r = server_->ListenUnix(config_.admin_socket, 0600, refused); !r) {
      return WithContext(r.error(), "admin_socket = \"" + config_.admin_socket + "\"");
    }
    auto metrics_port = server_->ListenPlain(config_.metrics_listen);
    if (!metrics_port) return WithContext(metrics_port.error(), "metrics_listen = \"" + config_.metrics_listen + "\"");
    // OCSP clients such as nginx speak plain HTTP; the answers are signed.
    std::string ocsp_ready;
    if (!config_.ocsp.listen.empty()) {
      auto ocsp_port = server_->ListenPlain(config_.ocsp.listen, net::Listener::kOcsp);
      if (!ocsp_port) return WithContext(ocsp_port.error(), "[ocsp] listen = \"" + config_.ocsp.listen + "\"");
      ocsp_ready = " ocsp=" + config_.ocsp.listen.substr(0, config_.ocsp.listen.rfind(':')) + ":" +
                   std::to_string(*ocsp_port);
    }

    // A rotation step changes the issuer and the client trust: the daemon's
    // own certificate and TLS context follow before the step is answered, so
    // a client that acts on the answer (renews onto the new intermediate,
    // then calls with that certificate) finds the new trust in place. Steps
    // run on the store worker, the follower's thread or the refresh: never
    // on an I/O thread.
    runtime_->SetOnCaChange([this] { RenewServerTls("CA rotation"); });
    ScheduleCrlRefresh();
    follower_ = std::make_unique<StoreFollower>(*runtime_);
    ScheduleServerCertRenewal(tls->renew_at);
    ScheduleWatchdog();
    WaitForSignals();

    std::string host = config_.listen.substr(0, config_.listen.rfind(':'));
    std::string metrics_host = config_.metrics_listen.substr(0, config_.metrics_listen.rfind(':'));
    ready_line_ = "ready api=" + host + ":" + std::to_string(*api_port) + " metrics=" + metrics_host + ":" +
                  std::to_string(*metrics_port) + " admin=" + config_.admin_socket + ocsp_ready;
    return Ok();
  }

  // Runs the io_context on one thread per core until shutdown has drained.
  void Run() {
    spdlog::info("mayfly-ca {} (trust domain {}, root {})", ready_line_, runtime_->trust_domain(),
                 runtime_->ca()->root_fingerprint);
    std::cout << ready_line_ << std::endl;
    NotifyReady(ready_line_);
    unsigned threads = std::max(2u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    // The other I/O threads are named for top -H and perf; the main thread,
    // an I/O thread too, keeps the process's name.
    for (unsigned i = 1; i < threads; ++i) {
      pool.emplace_back([this] {
        pthread_setname_np(pthread_self(), "mayfly-io");
        ioc_.run();
      });
    }
    ioc_.run();
    for (auto& t : pool) t.join();
  }

 private:
  std::string MetricsText() const {
    net::ServerStats s = server_->stats();
    std::string text = runtime_->MetricsText();
    AppendMetric(text, "mayfly_connections_active", "gauge", "Open client connections.",
                 server_->active_connections());
    AppendMetric(text, "mayfly_connections_accepted_total", "counter", "Connections accepted.", s.accepted);
    AppendLabelledMetric(text, "mayfly_connections_refused_total", "counter",
                         "Connections closed at accept, by reason.", "reason",
                         {{"not_allowed", s.refused_not_allowed},
                          {"max_connections", s.refused_over_limit},
                          {"max_connections_per_ip", s.refused_over_ip_limit}});
    AppendLabelledMetric(text, "mayfly_connections_evicted_total", "counter",
                         "Open connections closed to admit a new one, by the stage they were in.", "reason",
                         {{"handshaking", s.evicted_handshaking}, {"idle", s.evicted_idle}});
    AppendMetric(text, "mayfly_tls_handshake_failures_total", "counter", "Failed or timed-out TLS handshakes.",
                 s.handshake_failures);
    AppendMetric(text, "mayfly_store_worker_queued", "gauge",
                 "Enrollments, admin calls and CRL signings waiting for a store worker thread.",
                 store_worker_.queued());
    return text;
  }

  void ScheduleCrlRefresh() {
    crl_timer_.expires_after(config_.crl.interval);
    crl_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      OffIoThreads([this] {
        if (auto r = runtime_->Refresh(); !r) spdlog::error("CRL refresh failed: {}", r.error().ToString());
      });
      ScheduleCrlRefresh();
    });
  }

  void ScheduleServerCertRenewal(TimePoint at) {
    cert_timer_.expires_at(std::chrono::steady_clock::now() +
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(at - runtime_->clock().Now()));
    cert_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      OffIoThreads([this] { RenewServerTls("renewal"); });
    });
  }

  // Signing a CRL or the daemon's own certificate (which is stored) waits on
  // the store: the store worker runs it. When its queue is full (a flood of
  // admin calls or enrollments) this work, which no client can retry, runs
  // here instead.
  void OffIoThreads(std::function<void()> work) {
    if (!store_worker_.Post(work)) work();
  }

  // Runs off the I/O threads (renewal timer, rotation step); reschedules
  // the renewal timer.
  void RenewServerTls(const char* why) {
    std::lock_guard lock(tls_mu_);
    if (stopping_) return;
    auto tls = MakeServerTls(*runtime_, config_);
    if (!tls) {
      spdlog::error("renewing the server certificate ({}) failed: {}; retrying in 1 minute", why,
                    tls.error().ToString());
      ScheduleServerCertRenewal(runtime_->clock().Now() + std::chrono::minutes(1));
      return;
    }
    server_->SetTlsContext(tls->context);
    spdlog::info("renewed the daemon's server certificate ({})", why);
    ScheduleServerCertRenewal(tls->renew_at);
  }

  void ScheduleWatchdog() {
    auto interval = WatchdogInterval();
    if (!interval) return;
    watchdog_timer_.expires_after(*interval);
    watchdog_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      NotifyWatchdog();
      ScheduleWatchdog();
    });
  }

  void WaitForSignals() {
    signals_.async_wait([this](boost::system::error_code ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        Reload();
        WaitForSignals();
        return;
      }
      spdlog::info("signal {}: draining in-flight requests", signo);
      NotifyStopping();
      runtime_->SetOnCaChange(nullptr);
      crl_timer_.cancel();
      {
        std::lock_guard lock(tls_mu_);
        stopping_ = true;
        cert_timer_.cancel();
      }
      watchdog_timer_.cancel();
      server_->Shutdown([this] { ioc_.stop(); });
    });
  }

  void Reload() {
    NotifyReloading();
    auto config = LoadCaConfig(config_path_);
    Result<void> applied = config ? runtime_->Reload(*config) : Result<void>(std::unexpected(config.error()));
    if (applied) {
      auto options = ServerOptionsFrom(*config);
      if (options) server_->UpdateOptions(*options);
      config_.entries = config->entries;
      config_.limits = config->limits;
      spdlog::info("reloaded {}: entries and limits applied", config_path_);
    } else {
      spdlog::error("reload of {} refused, running state unchanged: {}", config_path_, applied.error().message);
    }
    NotifyReady("reloaded");
  }

  const std::string config_path_;
  CaConfig config_;
  std::unique_ptr<CaRuntime> runtime_;  // outlives the server (declared first)
  std::unique_ptr<StoreFollower> follower_;  // stops before the runtime goes
  asio::io_context ioc_;
  // Its tasks answer through ioc_ and use the runtime: it finishes them
  // (declared after ioc_, so destroyed first) before either goes.
  StoreWorker store_worker_;
  ApiService service_;
  std::unique_ptr<net::Server> server_;
  asio::signal_set signals_;
  asio::steady_timer crl_timer_;
  asio::steady_timer cert_timer_;
  asio::steady_timer watchdog_timer_;
  std::string ready_line_;
  std::mutex tls_mu_;      // the server certificate renewal: timer and TLS context
  bool stopping_ = false;  // guarded by tls_mu_
};

int RunServe(const GlobalOptions& global) {
  RetainFreedHeapMemory();
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  auto config = LoadCaConfig(global.config);
  if (!config) return Fail(config.error().message);
  auto runtime = CaRuntime::Load(*config, SystemClock::Instance());
  if (!runtime) return Fail(runtime.error().message);
  Daemon daemon(global.config, *config, std::move(*runtime));
  if (auto r = daemon.Start(); !r) return Fail(r.error().message);
  daemon.Run();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, const GlobalOptions& global, Action& action) {
  CLI::App* serve = app.add_subcommand("serve", "Run the CA daemon");
  serve->callback([&global, &action] { action = [&global] { return RunServe(global); }; });
}

}  // namespace mayfly::cli
