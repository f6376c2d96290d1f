// Config file tests shared by ca.toml's (libca) and agent.toml's (agent):
// table-driven bad files and the error each must produce.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <ostream>
#include <string>

#include "mayfly/error.h"
#include "support/temp_dir.h"

namespace mayfly::testing {

inline std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir.File(name);
  std::ofstream(path) << text;
  return path;
}

// One bad file and the error it must produce.
struct ErrorCase {
  const char* name;
  const char* toml;
  int line;              // 0: the message carries no line
  const char* key;       // dotted path
  const char* expected;  // a part of what follows "<key>: "
};

// Test names and failure output show the case's name, not its bytes.
inline void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

inline std::string CaseName(const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; }

// The error of loading `path` with `Load` (LoadCaConfig, LoadAgentConfig), or
// nullopt when the file loads.
template <auto Load>
std::optional<Error> LoadError(const std::string& path) {
  auto cfg = Load(path);
  return cfg ? std::nullopt : std::optional<Error>(cfg.error());
}

// "<file>:<line>: <key>: " and then `expected`, with code kConfig.
inline void ExpectConfigError(const Error& error, const std::string& path, const ErrorCase& c) {
  EXPECT_EQ(error.code, ErrorCode::kConfig);
  std::string where = path + (c.line > 0 ? ":" + std::to_string(c.line) : "") + ": " + c.key + ": ";
  EXPECT_EQ(error.message.rfind(where, 0), 0u) << "message: " << error.message << "\nwanted prefix: " << where;
  EXPECT_NE(error.message.find(c.expected), std::string::npos)
      << "message: " << error.message << "\nwanted: " << c.expected;
}

// Writes the case's TOML as `file` and checks the error `Load` gives.
template <auto Load>
class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {
 protected:
  void ExpectError(const std::string& file) {
    TempDir dir;
    std::string path = WriteFile(dir, file, GetParam().toml);
    std::optional<Error> error = LoadError<Load>(path);
    ASSERT_TRUE(error.has_value()) << "loaded:\n" << GetParam().toml;
    ExpectConfigError(*error, path, GetParam());
  }
};

// A file that is not there: kConfig "<path>: cannot read: No such file or directory".
template <auto Load>
void ExpectMissingFileSaysCannotRead(const std::string& file) {
  TempDir dir;
  std::string path = dir.File(file);
  std::optional<Error> error = LoadError<Load>(path);
  ASSERT_TRUE(error.has_value()) << file;
  EXPECT_EQ(error->code, ErrorCode::kConfig);
  EXPECT_EQ(error->message, path + ": cannot read: No such file or directory");
}

// A TOML syntax error has no key: "<file>:<line>: <toml++'s description> (column N)".
struct SyntaxErrorCase {
  const char* file;
  const char* toml;
  int line;
  const char* description;
};

template <auto Load>
void ExpectSyntaxError(const SyntaxErrorCase& c) {
  TempDir dir;
  std::string path = WriteFile(dir, c.file, c.toml);
  std::optional<Error> error = LoadError<Load>(path);
  ASSERT_TRUE(error.has_value()) << c.toml;
  EXPECT_EQ(error->code, ErrorCode::kConfig);
  const std::string& message = error->message;
  EXPECT_EQ(message.rfind(path + ":" + std::to_string(c.line) + ": ", 0), 0u) << message;
  EXPECT_NE(message.find(c.description), std::string::npos) << message;
  EXPECT_NE(message.find("(column "), std::string::npos) << message;
}

}  // namespace mayfly::testing
