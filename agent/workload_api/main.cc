// mayfly-workload-api: the SPIFFE Workload API process that `mayfly-agent
// run` starts when workload_api_socket is set (agent/workload_api_process.h);
// not meant to be run by hand. It serves on the listening socket it is
// handed until SIGTERM: a gRPC server, an accept loop that records each
// connection's peer credentials, and the identity keeper thread.
#include <grpcpp/resource_quota.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <thread>

#include "mayfly/file_util.h"
#include "agent_config.h"
#include "workload_api_service.h"
#include "workload_caller.h"
#include "workload_identities.h"

namespace mayfly::agent {
namespace {

constexpr int kMaxThreads = 256;

// Accepts here rather than in gRPC so that each connection's peer
// credentials (SO_PEERCRED) are taken before gRPC owns it.
void AcceptLoop(int listen_fd, grpc::Server& server, Connections& connections, const IdentityBoard& board) {
  while (true) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (board.closed()) return;
      spdlog::error("workload API: accept: {}", ErrnoString(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    Connections::Peer peer{.accepted_ticks = TicksSinceBoot()};
    socklen_t size = sizeof(peer.cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer.cred, &size) != 0) {
      spdlog::warn("workload API: SO_PEERCRED: {}", ErrnoString(errno));
      close(fd);
      continue;
    }
    connections.Add(fd, peer);
    grpc::AddInsecureChannelFromFd(&server, fd);  // gRPC owns and closes fd from here
  }
}

int Serve(const AgentConfig& config, int listen_fd) {
  // The main thread takes the signals with sigwait; every thread started
  // below inherits them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signo : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, signo);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  IdentityBoard board;
  Connections connections;
  JwtSvidCache jwt(board, config, SystemClock::Instance());
  WorkloadApiService service(board, connections, jwt, SystemClock::Instance());
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  // Each open stream holds a thread of the synchronous server: a bound, so
  // a local process opening streams without end exhausts calls (they fail
  // with RESOURCE_EXHAUSTED), not the agent's memory.
  grpc::ResourceQuota quota("mayfly-workload-api");
  quota.SetMaxThreads(kMaxThreads);
  builder.SetResourceQuota(quota);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    spdlog::error("workload API: the gRPC server did not start");
    return 1;
  }
  std::thread keeper([&] {
    IdentityKeeper identities(config, SystemClock::Instance(), board);
    while (!board.closed()) {
      const TimePoint next = identities.Step();
      while (!board.closed() && SystemClock::Instance().Now() < next) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  });
  std::thread acceptor([&] { AcceptLoop(listen_fd, *server, connections, board); });
  spdlog::info("workload API serving on {}", config.workload_api_socket);
  int signo = 0;
  while (sigwait(&signals, &signo) == 0 && signo == SIGHUP) {
  }
  board.Close();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  spdlog::info("workload API: stopped (signal {})", signo);
  spdlog::default_logger()->flush();
  // The keeper may be inside a call to the CA and the acceptor inside
  // accept(): the process ends with them rather than waiting. Nothing is on
  // disk to flush; the keys go with the process's memory.
  _exit(0);
}

}  // namespace
}  // namespace mayfly::agent

int main(int argc, char** argv) {
  // Identity keys sit in this process's memory: no core dump, and no
  // /proc/<pid>/mem or ptrace for other processes of the same user.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) std::perror("prctl(PR_SET_DUMPABLE, 0)");
  CLI::App app{"mayfly-workload-api: the SPIFFE Workload API of mayfly-agent run (started by it)"};
  std::string config_path;
  int listen_fd = -1;
  app.add_option("--config", config_path, "Agent configuration file")->required();
  app.add_option("--listen-fd", listen_fd, "The listening unix socket, inherited from mayfly-agent")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("mayfly-workload-api"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  auto config = mayfly::LoadAgentConfig(config_path);
  if (!config) {
    std::fprintf(stderr, "mayfly-workload-api: %s\n", config.error().message.c_str());
    return 2;
  }
  int type = 0;
  socklen_t size = sizeof(type);
  if (getsockopt(listen_fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 || type != SOCK_STREAM) {
    std::fprintf(stderr, "mayfly-workload-api: --listen-fd %d is not a listening socket\n", listen_fd);
    return 2;
  }
  return mayfly::agent::Serve(*config, listen_fd);
}
