// Fork, pipe and reaping for passes in a child process (see the header).
#include "agent_pass_child.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <cerrno>
#include <csignal>

#include "agent_publish.h"
#include "mayfly/file_util.h"

namespace mayfly::agent {

namespace asio = boost::asio;

namespace {

// Waits for `pid`; its exit status as waitpid reports it.
int Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

void PassChild::Start(Done done) {
  done_ = std::move(done);
  received_.clear();
  auto fail = [this](const std::string& what) {
    spdlog::error("starting a pass: {}: {}", what, ErrnoString(errno));
    PassResult result{.errors = {what}, .next_wake = agent_.PassDied()};
    asio::post(ioc_, [done = std::move(done_), result] { done(result); });
  };
  int fds[2];
  // Close-on-exec: a hook the pass starts must not hold the pipe open, or
  // the end of the pass would wait for the hook's own children.
  if (pipe2(fds, O_CLOEXEC) != 0) return fail("pipe");
  spdlog::default_logger()->flush();  // nothing buffered is written twice
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return fail("fork");
  }
  if (pid == 0) {
    close(fds[0]);
    RunInChild(fds[1], parent);
  }
  close(fds[1]);
  pid_ = pid;
  pipe_.emplace(ioc_, fds[0]);
  // Everything up to end of file: the child has written its state and is exiting.
  asio::async_read(*pipe_, asio::dynamic_buffer(received_), [this](boost::system::error_code, size_t) {
    if (pid_ > 0) Finish();  // not stopped meanwhile
  });
}

void PassChild::RunInChild(int out_fd, pid_t parent) {
  // The pass dies with the agent: no orphan keeps renewing beside the next
  // agent (which would interleave their key and certificate writes).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  // The parent's handlers would only poke the parent's signal pipe.
  for (int signo : {SIGTERM, SIGINT, SIGHUP}) std::signal(signo, SIG_DFL);
  agent_.ReseedJitter();
  const bool sent = WriteAll(out_fd, agent_.CarryOver(agent_.RunPass()), "the pass's state pipe").has_value();
  spdlog::default_logger()->flush();
  _exit(sent ? 0 : 1);
}

void PassChild::Finish() {
  const int status = Reap(pid_);
  pid_ = -1;
  pipe_.reset();
  PassResult result;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    auto taken = agent_.TakeCarryOver(received_);
    if (taken) {
      result = std::move(*taken);
    } else {
      spdlog::error("{}", taken.error().message);
      result = PassResult{.errors = {taken.error().message}, .next_wake = agent_.PassDied()};
    }
  } else {
    const std::string what = "the pass process " + DescribeExit(status);
    spdlog::error("{}; retrying with backoff", what);
    result = PassResult{.errors = {what}, .next_wake = agent_.PassDied()};
  }
  Done done = std::move(done_);
  done(result);
}

void PassChild::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  Reap(pid_);
  pid_ = -1;
  pipe_.reset();
  done_ = nullptr;
}

}  // namespace mayfly::agent
