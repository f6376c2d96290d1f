// workload-load: drives a running agent's SPIFFE Workload API the way
// workloads do. First it reads one FetchX509SVID message (the identities
// the caller holds) and asks FetchJWTSVID once for all of them, so the
// agent's JWT-SVID cache holds a token per identity; then --threads
// workloads, each on its own connection, call FetchJWTSVID for one identity
// after another for --duration seconds. Prints calls/s, p50/p99/max latency
// and errors, then verifies every distinct token received against the JWT
// bundle from FetchJWTBundles; exits 1 on any error or bad token.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "latency.h"
#include "mayfly/clock.h"
#include "mayfly/jwt_svid.h"
#include "workload.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using mayfly::Percentile;

struct Options {
  std::string socket;
  int threads = 4;
  int duration = 10;
  std::string audience = "workload-load";
};

struct Tally {
  std::vector<double> latencies_ms;
  std::set<std::string> tokens;  // distinct tokens seen: verified after the clock
  uint64_t errors = 0;
  std::string first_error;
};

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "workload-load: " << message << "\n";
  std::exit(2);
}

// A connection of its own: gRPC would otherwise share one between the
// channels of a process, and each workload is a process with its own.
std::unique_ptr<SpiffeWorkloadAPI::Stub> Connect(const Options& options, int index) {
  grpc::ChannelArguments args;
  args.SetInt("mayfly.workload", index);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return SpiffeWorkloadAPI::NewStub(
      grpc::CreateCustomChannel("unix:" + options.socket, grpc::InsecureChannelCredentials(), args));
}

void Prepare(grpc::ClientContext& context, int seconds) {
  context.AddMetadata("workload.spiffe.io", "true");
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  context.set_wait_for_ready(true);
}

// The SPIFFE IDs the caller holds, from the first FetchX509SVID message.
std::vector<std::string> Identities(SpiffeWorkloadAPI::Stub& stub) {
  grpc::ClientContext context;
  Prepare(context, 30);
  auto reader = stub.FetchX509SVID(&context, X509SVIDRequest());
  X509SVIDResponse response;
  if (!reader->Read(&response)) Die("FetchX509SVID: " + reader->Finish().error_message());
  context.TryCancel();
  reader->Finish().IgnoreError();
  std::vector<std::string> ids;
  for (const X509SVID& svid : response.svids()) ids.push_back(svid.spiffe_id());
  return ids;
}

JWTSVIDResponse FetchAll(SpiffeWorkloadAPI::Stub& stub, const Options& options) {
  grpc::ClientContext context;
  Prepare(context, 60);
  JWTSVIDRequest request;
  request.add_audience(options.audience);
  JWTSVIDResponse response;
  if (auto status = stub.FetchJWTSVID(&context, request, &response); !status.ok()) {
    Die("FetchJWTSVID (all identities): " + status.error_message());
  }
  return response;
}

mayfly::JwtAuthorities Authorities(SpiffeWorkloadAPI::Stub& stub) {
  grpc::ClientContext context;
  Prepare(context, 30);
  auto reader = stub.FetchJWTBundles(&context, JWTBundlesRequest());
  JWTBundlesResponse response;
  if (!reader->Read(&response) || response.bundles().empty()) {
    Die("FetchJWTBundles: " + reader->Finish().error_message());
  }
  context.TryCancel();
  reader->Finish().IgnoreError();
  auto authorities = mayfly::JwtAuthoritiesFromBundle(response.bundles().begin()->second);
  if (!authorities) Die("the JWT bundle: " + authorities.error().message);
  return std::move(*authorities);
}

void Drive(const Options& options, int index, const std::vector<std::string>& ids, Clock::time_point until,
           Tally& tally) {
  auto stub = Connect(options, index);
  JWTSVIDRequest request;
  request.add_audience(options.audience);
  size_t next = static_cast<size_t>(index);
  while (Clock::now() < until) {
    request.set_spiffe_id(ids[next++ % ids.size()]);
    grpc::ClientContext context;
    Prepare(context, 10);
    JWTSVIDResponse response;
    const auto start = Clock::now();
    grpc::Status status = stub->FetchJWTSVID(&context, request, &response);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!status.ok() || response.svids_size() != 1 || response.svids(0).spiffe_id() != request.spiffe_id()) {
      if (tally.errors++ == 0) {
        tally.first_error = status.ok() ? "an answer without exactly the identity asked for" : status.error_message();
      }
      continue;
    }
    tally.latencies_ms.push_back(ms);
    tally.tokens.insert(response.svids(0).svid());
  }
}

int Run(const Options& options) {
  auto stub = Connect(options, -1);
  const std::vector<std::string> ids = Identities(*stub);
  if (ids.empty()) Die("the caller holds no identity");
  const auto warm_start = Clock::now();
  const JWTSVIDResponse all = FetchAll(*stub, options);
  std::printf("identities %zu, first FetchJWTSVID for all of them (the CA signs each) %.1f ms\n", ids.size(),
              std::chrono::duration<double, std::milli>(Clock::now() - warm_start).count());
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<Tally> tallies(static_cast<size_t>(options.threads));
  const auto start = Clock::now();
  const auto until = start + std::chrono::seconds(options.duration);
  std::vector<std::thread> workers;
  for (int t = 0; t < options.threads; ++t) {
    workers.emplace_back([&, t] { Drive(options, t, ids, until, tallies[static_cast<size_t>(t)]); });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> latencies;
  std::set<std::string> tokens;
  uint64_t errors = 0;
  std::string first_error;
  for (Tally& t : tallies) {
    latencies.insert(latencies.end(), t.latencies_ms.begin(), t.latencies_ms.end());
    tokens.merge(t.tokens);
    errors += t.errors;
    if (first_error.empty()) first_error = t.first_error;
  }
  for (const JWTSVID& s : all.svids()) tokens.insert(s.svid());
  std::sort(latencies.begin(), latencies.end());
  // Verified after the clock: the agent's tokens, against its own bundle.
  const mayfly::JwtAuthorities authorities = Authorities(*stub);
  const int64_t now = mayfly::ToUnixSeconds(mayfly::SystemClock::Instance().Now());
  uint64_t bad = 0;
  for (const std::string& token : tokens) {
    if (auto claims = mayfly::VerifyJwtSvid(token, options.audience, authorities.View(), now); !claims) {
      if (bad++ == 0) std::fprintf(stderr, "first token that does not verify: %s\n", claims.error().message.c_str());
    }
  }
  std::printf("mode FetchJWTSVID from the cache, %d workloads, %zu identities, %.1f s\n", options.threads, ids.size(),
              seconds);
  std::printf("%-22s %12.0f calls/s\n", "throughput", static_cast<double>(latencies.size()) / seconds);
  std::printf("%-22s %12.3f ms\n", "latency p50", Percentile(latencies, 0.50));
  std::printf("%-22s %12.3f ms\n", "latency p99", Percentile(latencies, 0.99));
  std::printf("%-22s %12.3f ms\n", "latency max", latencies.empty() ? 0.0 : latencies.back());
  std::printf("%-22s %12zu\n", "distinct tokens", tokens.size());
  std::printf("%-22s %12llu\n", "errors", static_cast<unsigned long long>(errors));
  std::printf("%-22s %12llu\n", "not verifying", static_cast<unsigned long long>(bad));
  if (errors > 0) std::fprintf(stderr, "first error: %s\n", first_error.c_str());
  return errors == 0 && bad == 0 && !latencies.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"workload-load: workloads calling FetchJWTSVID on a running agent's Workload API"};
  app.add_option("--socket", options.socket, "The agent's workload_api_socket")->required();
  app.add_option("--threads", options.threads, "Concurrent workloads, one connection each (default 4)")
      ->check(CLI::Range(1, 256));
  app.add_option("--duration", options.duration, "Seconds of load (default 10)")->check(CLI::Range(1, 3600));
  app.add_option("--audience", options.audience, "The audience asked for (default workload-load)");
  CLI11_PARSE(app, argc, argv);
  const int code = Run(options);
  // gRPC's threads and globals outlive main; the figures are printed.
  std::fflush(nullptr);
  _exit(code);
}
