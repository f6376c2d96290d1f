// The shipped systemd units: they load cleanly (`systemd-analyze verify`) and
// their sandboxing reaches systemd's "OK" exposure level or better.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "mayfly/file_util.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace mayfly {
namespace units_test {

struct Unit {
  const char* label;  // the test name's suffix
  const char* name;
  const char* installed_binary;  // the ExecStart path the unit ships with
  const char* built_binary;      // the same program in this build
};

constexpr Unit kUnits[] = {
    {"Ca", "mayfly-ca.service", "/usr/bin/mayfly-ca", "/daemon/mayfly-ca"},
    {"Agent", "mayfly-agent.service", "/usr/bin/mayfly-agent", "/agent/mayfly-agent"},
};

void PrintTo(const Unit& unit, std::ostream* out) { *out << unit.name; }

class UnitsTest : public ::testing::TestWithParam<Unit> {
 protected:
  // The unit as shipped, with ExecStart pointing at the built binary: verify
  // checks that the program exists.
  std::string LocalCopy(const Unit& unit) {
    auto text = ReadFile(std::string(MAYFLY_SOURCE_DIR) + "/systemd/" + unit.name);
    EXPECT_TRUE(text) << text.error().ToString();
    std::string unit_text = text.value_or("");
    const std::string from = std::string("ExecStart=") + unit.installed_binary + " ";
    const size_t at = unit_text.find(from);
    EXPECT_NE(at, std::string::npos) << unit.name << " does not start " << unit.installed_binary;
    if (at != std::string::npos) {
      unit_text.replace(at, from.size(), "ExecStart=" + std::string(MAYFLY_BINARY_DIR) + unit.built_binary + " ");
    }
    const std::string path = dir_.File(unit.name);
    testing::WriteTextFile(path, unit_text);
    return path;
  }
  testing::TempDir dir_;
};

TEST_P(UnitsTest, VerifiesCleanly) {
  const std::string path = LocalCopy(GetParam());
  auto r = testing::RunCommand("systemd-analyze verify " + path);
  EXPECT_EQ(r.status, 0) << r.output;
  // verify reports most problems as warnings with a zero status.
  EXPECT_EQ(r.output.find(GetParam().name), std::string::npos) << r.output;
}

TEST_P(UnitsTest, ExposureIsOkOrBetter) {
  const std::string path = LocalCopy(GetParam());
  auto r = testing::RunCommand("systemd-analyze security --offline=true --no-pager " + path);
  ASSERT_EQ(r.status, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(Overall exposure level for \S+: ([0-9.]+) (\w+))")))
      << r.output;
  const double exposure = std::stod(m[1].str());
  const std::string level = m[2].str();
  EXPECT_TRUE(level == "OK" || level == "SAFE") << GetParam().name << ": " << exposure << " " << level;
  std::cout << GetParam().name << " exposure " << exposure << " " << level << "\n";
}

// Keys sit in both daemons' memory: systemd must not let them dump core.
TEST_P(UnitsTest, DumpsNoCore) {
  auto text = ReadFile(std::string(MAYFLY_SOURCE_DIR) + "/systemd/" + GetParam().name);
  ASSERT_TRUE(text) << text.error().ToString();
  EXPECT_TRUE(std::regex_search(*text, std::regex(R"((^|\n)LimitCORE=0\n)"))) << GetParam().name;
  auto r = testing::RunCommand("systemd-analyze verify " + LocalCopy(GetParam()));
  EXPECT_EQ(r.status, 0) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Shipped, UnitsTest, ::testing::ValuesIn(kUnits),
                         [](const auto& info) { return std::string(info.param.label); });

}  // namespace units_test
}  // namespace mayfly
