// nginx started by tests.
#include "support/nginx.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "mayfly/file_util.h"
#include "support/test_pki.h"

namespace mayfly::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool Accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = Loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int FreeLocalPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::unique_ptr<Nginx> Nginx::Start(const std::string& dir, const NginxFiles& files, std::string& error) {
  std::unique_ptr<Nginx> nginx(new Nginx());
  nginx->dir_ = dir;
  nginx->port_ = FreeLocalPort();
  const std::string conf = dir + "/nginx.conf";
  // Temp paths and logs in the test's directory: nothing outside it is touched.
  WriteTextFile(conf,
                "daemon off;\n"
                "worker_processes 1;\n"
                "pid " + dir + "/nginx.pid;\n"
                "error_log " + dir + "/nginx-error.log info;\n"
                "events { worker_connections 64; }\n"
                "http {\n"
                "  access_log off;\n"
                "  client_body_temp_path " + dir + "/nginx-body;\n"
                "  proxy_temp_path " + dir + "/nginx-proxy;\n"
                "  fastcgi_temp_path " + dir + "/nginx-fastcgi;\n"
                "  uwsgi_temp_path " + dir + "/nginx-uwsgi;\n"
                "  scgi_temp_path " + dir + "/nginx-scgi;\n"
                "  server {\n"
                "    listen 127.0.0.1:" + std::to_string(nginx->port_) + " ssl;\n"
                "    ssl_certificate " + files.cert + ";\n"
                "    ssl_certificate_key " + files.key + ";\n"
                "    ssl_client_certificate " + files.bundle + ";\n"
                "    ssl_verify_client on;\n"
                "    ssl_verify_depth 3;\n" +
                (files.crl.empty() ? "" : "    ssl_crl " + files.crl + ";\n") +
                (files.ocsp_responder.empty()
                     ? ""
                     : "    ssl_ocsp on;\n    ssl_ocsp_responder " + files.ocsp_responder + ";\n") +
                "    location / { default_type text/plain; return 200 \"verified $ssl_client_s_dn\\n\"; }\n"
                "  }\n"
                "}\n");
  nginx->process_ = ChildProcess::Start({"/usr/sbin/nginx", "-e", dir + "/nginx-error.log", "-c", conf});
  if (!nginx->process_) {
    error = "could not start /usr/sbin/nginx";
    return nullptr;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!Accepts(nginx->port_)) {
    // A config nginx refuses makes it exit at once: report its words.
    if (nginx->process_->WaitForLineContaining("emerg", std::chrono::milliseconds(20)) ||
        std::chrono::steady_clock::now() > deadline) {
      error = "nginx did not start: " + nginx->process_->output() + nginx->error_log();
      return nullptr;
    }
  }
  return nginx;
}

Nginx::~Nginx() {
  // SIGTERM: the master stops its workers and waits for them, so none is left.
  if (process_) process_->Stop(SIGTERM);
}

void Nginx::Reload() { process_->Signal(SIGHUP); }

std::string Nginx::error_log() const { return ReadFile(dir_ + "/nginx-error.log").value_or(""); }

}  // namespace mayfly::testing
