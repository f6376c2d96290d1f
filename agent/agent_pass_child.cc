// Fork, pipe and reaping for passes in a child process (see the header).
#include "agent_pass_child.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <csignal>

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

std::string HowItEnded(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
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
  ReadMore();
}

void PassChild::RunInChild(int out_fd, pid_t parent) {
  // The pass dies with the agent: no orphan keeps renewing beside the next
  // agent (which would interleave their key and certificate writes).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  // The parent's handlers would only poke the parent's signal pipe.
  for (int signo : {SIGTERM, SIGINT, SIGHUP}) std::signal(signo, SIG_DFL);
  agent_.ReseedJitter();
  const std::string state = agent_.CarryOver(agent_.RunPass());
  bool sent = true;
  for (size_t off = 0; off < state.size();) {
    ssize_t n = write(out_fd, state.data() + off, state.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      sent = false;
      break;
    }
    off += static_cast<size_t>(n);
  }
  spdlog::default_logger()->flush();
  _exit(sent ? 0 : 1);
}

void PassChild::ReadMore() {
  pipe_->async_read_some(asio::buffer(chunk_), [this](boost::system::error_code ec, size_t n) {
    if (pid_ <= 0) return;  // stopped meanwhile
    received_.append(chunk_, n);
    if (!ec) return ReadMore();
    Finish();  // end of file: the child has written everything and is exiting
  });
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
    const std::string what = "the pass process " + HowItEnded(status);
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
