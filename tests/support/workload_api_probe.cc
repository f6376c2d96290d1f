// workload_api_probe: a Workload API client for the integration tests, run
// as a process of its own so a test can call as another user (setuid) and
// so gRPC never runs inside the forking test binary.
//
//   workload_api_probe SOCKET x509svid|bundles|jwtsvid [--messages N]
//                      [--no-header] [--uid N] [--timeout SECONDS]
//
// Prints one line per SVID ("svid <spiffe_id> <chain hex> <key hex>
// <bundle hex>") or bundle ("bundle <trust domain> <hex>"), "message" after
// each streamed message, and "status <code> <message>" last. Exits 0
// whenever it got a status.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "workload.grpc.pb.h"

namespace {

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out.empty() ? "-" : out;
}

void Line(const std::string& text) {
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
}

int Finish(const grpc::Status& status) {
  Line("status " + std::to_string(status.error_code()) + " " + status.error_message());
  return 0;
}

template <typename Response, typename Print>
int Stream(std::unique_ptr<grpc::ClientReader<Response>> reader, grpc::ClientContext& context, int messages,
           Print print) {
  Response response;
  int got = 0;
  while (got < messages && reader->Read(&response)) {
    print(response);
    Line("message");
    ++got;
  }
  if (got == messages) {
    context.TryCancel();
    reader->Finish().IgnoreError();
    return Finish(grpc::Status::OK);
  }
  return Finish(reader->Finish());
}

}  // namespace

int Run(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: workload_api_probe SOCKET x509svid|bundles|jwtsvid [options]\n");
    return 2;
  }
  const std::string socket = argv[1];
  const std::string method = argv[2];
  int messages = 1;
  bool header = true;
  int timeout = 20;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--messages" && i + 1 < argc) {
      messages = std::atoi(argv[++i]);
    } else if (arg == "--no-header") {
      header = false;
    } else if (arg == "--timeout" && i + 1 < argc) {
      timeout = std::atoi(argv[++i]);
    } else if (arg == "--uid" && i + 1 < argc) {
      const uid_t uid = static_cast<uid_t>(std::atoi(argv[++i]));
      if (setgid(uid) != 0 || setuid(uid) != 0) {
        std::perror("setuid");
        return 2;
      }
    } else {
      std::fprintf(stderr, "workload_api_probe: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  auto stub = SpiffeWorkloadAPI::NewStub(channel);
  grpc::ClientContext context;
  if (header) context.AddMetadata("workload.spiffe.io", "true");
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout));
  context.set_wait_for_ready(true);
  if (method == "x509svid") {
    return Stream(stub->FetchX509SVID(&context, X509SVIDRequest()), context, messages,
                  [](const X509SVIDResponse& r) {
                    for (const X509SVID& s : r.svids()) {
                      Line("svid " + s.spiffe_id() + " " + Hex(s.x509_svid()) + " " + Hex(s.x509_svid_key()) + " " +
                           Hex(s.bundle()));
                    }
                    Line("crls " + std::to_string(r.crl_size()));
                  });
  }
  if (method == "bundles") {
    return Stream(stub->FetchX509Bundles(&context, X509BundlesRequest()), context, messages,
                  [](const X509BundlesResponse& r) {
                    for (const auto& [td, der] : r.bundles()) Line("bundle " + td + " " + Hex(der));
                  });
  }
  if (method == "jwtsvid") {
    JWTSVIDRequest request;
    request.add_audience("test");
    JWTSVIDResponse response;
    return Finish(stub->FetchJWTSVID(&context, request, &response));
  }
  std::fprintf(stderr, "workload_api_probe: unknown method %s\n", method.c_str());
  return 2;
}

int main(int argc, char** argv) {
  const int code = Run(argc, argv);
  // gRPC's threads and globals outlive main; the test reads the status
  // line, not gRPC's teardown (nor LeakSanitizer's view of it).
  std::fflush(nullptr);
  _exit(code);
}
