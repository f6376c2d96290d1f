// Reading a caller's facts from /proc and the user database, and matching
// selectors against them.
#include "workload_caller.h"

#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "mayfly/file_util.h"
#include "mayfly/ossl_ptr.h"
#include "mayfly/x509_util.h"

namespace mayfly::agent {

namespace {

// Field 22 of /proc/<pid>/stat; nullopt when the process is gone. The
// command name (field 2) may hold spaces and ')', so fields are counted
// from the last ')'.
std::optional<unsigned long long> StartTicks(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  size_t at = stat->rfind(')');
  if (at == std::string::npos) return std::nullopt;
  // After ')' come field 3 (state) onwards: skip 19 fields to reach field 22.
  at += 1;
  for (int field = 3; field < 22; ++field) {
    at = stat->find(' ', at + 1);
    if (at == std::string::npos) return std::nullopt;
  }
  unsigned long long ticks = 0;
  const char* begin = stat->data() + at + 1;
  auto [end, ec] = std::from_chars(begin, stat->data() + stat->size(), ticks);
  if (ec != std::errc() || end == begin) return std::nullopt;
  return ticks;
}

std::optional<std::string> UserName(uid_t uid) {
  std::vector<char> buffer(4096);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) return std::nullopt;
  return std::string(found->pw_name);
}

std::optional<std::string> GroupName(gid_t gid) {
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  if (getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) return std::nullopt;
  return std::string(found->gr_name);
}

std::optional<std::string> ExePath(pid_t pid) {
  std::array<char, 4096> path{};
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = readlink(link.c_str(), path.data(), path.size());
  if (n <= 0 || static_cast<size_t>(n) >= path.size()) return std::nullopt;
  return std::string(path.data(), static_cast<size_t>(n));
}

// Hashes the executable through /proc/<pid>/exe: the file the process runs
// even when its path was replaced or removed since.
std::optional<std::string> ExeSha256(pid_t pid) {
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  int fd = open(link.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  OsslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1;
  std::array<char, 65536> chunk;
  while (ok) {
    ssize_t n = read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    ok = EVP_DigestUpdate(ctx.get(), chunk.data(), static_cast<size_t>(n)) == 1;
  }
  close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!ok || EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) return std::nullopt;
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), size));
}

bool Matches(std::string_view selector, const CallerFacts& caller) {
  auto equals = [](const std::optional<std::string>& fact, std::string_view want) {
    return fact.has_value() && *fact == want;
  };
  auto value = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (!selector.starts_with(prefix)) return std::nullopt;
    return selector.substr(prefix.size());
  };
  if (auto v = value("unix:uid:")) return *v == std::to_string(caller.uid);
  if (auto v = value("unix:gid:")) return *v == std::to_string(caller.gid);
  if (auto v = value("unix:user:")) return equals(caller.user, *v);
  if (auto v = value("unix:group:")) return equals(caller.group, *v);
  if (auto v = value("unix:path:")) return equals(caller.exe, *v);
  if (auto v = value("unix:sha256:")) return equals(caller.sha256, *v);
  if (auto v = value("systemd:unit:")) return equals(caller.unit, *v);
  return false;  // a form this agent does not know never matches
}

}  // namespace

unsigned long long TicksSinceBoot() {
  timespec now{};
  clock_gettime(CLOCK_BOOTTIME, &now);
  const auto hz = static_cast<unsigned long long>(sysconf(_SC_CLK_TCK));
  return static_cast<unsigned long long>(now.tv_sec) * hz +
         static_cast<unsigned long long>(now.tv_nsec) * hz / 1'000'000'000ULL;
}

std::optional<std::string> SystemdUnitOf(std::string_view cgroup_text) {
  std::optional<std::string> unit;
  // cgroup v2 has the single line "0::/path"; under v1 the name=systemd
  // hierarchy carries the same path.
  size_t line_start = 0;
  while (line_start < cgroup_text.size()) {
    size_t line_end = cgroup_text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = cgroup_text.size();
    std::string_view line = cgroup_text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    const bool v2 = line.starts_with("0::");
    const bool v1_systemd = line.find(":name=systemd:") != std::string_view::npos;
    if (!v2 && !v1_systemd) continue;
    std::string_view path = line.substr(line.find(':', line.find(':') + 1) + 1);
    std::optional<std::string> deepest;
    size_t at = 0;
    while (at <= path.size()) {
      size_t end = path.find('/', at);
      if (end == std::string_view::npos) end = path.size();
      std::string_view part = path.substr(at, end - at);
      if (part.ends_with(".service") || part.ends_with(".scope")) deepest = std::string(part);
      at = end + 1;
    }
    if (deepest) unit = deepest;
    if (v2) break;
  }
  return unit;
}

Result<CallerFacts> ObserveCaller(pid_t pid, uid_t uid, gid_t gid, unsigned long long connected_ticks,
                                  bool hash_exe) {
  auto gone = [pid] {
    return MakeError(ErrorCode::kForbidden, "process " + std::to_string(pid) + " is not the one that connected");
  };
  const auto started = StartTicks(pid);
  if (!started || *started > connected_ticks) return gone();
  CallerFacts facts{.pid = pid, .uid = uid, .gid = gid};
  facts.user = UserName(uid);
  facts.group = GroupName(gid);
  facts.exe = ExePath(pid);
  if (hash_exe) facts.sha256 = ExeSha256(pid);
  auto cgroup = ReadFile("/proc/" + std::to_string(pid) + "/cgroup");
  if (cgroup) facts.unit = SystemdUnitOf(*cgroup);
  if (StartTicks(pid) != started) return gone();
  return facts;
}

bool SelectorsMatch(std::span<const std::string> selectors, const CallerFacts& caller) {
  if (selectors.empty()) return false;
  return std::all_of(selectors.begin(), selectors.end(),
                     [&](const std::string& s) { return Matches(s, caller); });
}

}  // namespace mayfly::agent
