// Runs every scenario script in tests/raft/testdata/*.txt (one gtest per
// file) and compares each command's output with the expectation written
// under it. Files in testdata/pending/ are not run: they hold scenarios whose
// correct expectation the core does not meet yet.
//
// RAFT_SCENARIO_REWRITE=1 rewrites the files in place with the actual
// outputs instead of comparing, so a change of behaviour is reviewed as a
// diff. Invariant violations and script errors fail the test in both modes.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/raft/command.h"
#include "tests/raft/runner.h"
#include "tests/raft/scenario_file.h"

namespace raftkv::raft::scenario {
namespace {

namespace fs = std::filesystem;

bool RewriteMode() {
  const char* v = std::getenv("RAFT_SCENARIO_REWRITE");
  return v != nullptr && std::string(v) == "1";
}

std::vector<std::string> ScenarioNames() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(RAFT_SCENARIO_TESTDATA)) {
    if (entry.is_regular_file() && entry.path().extension() == ".txt") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, Run) {
  const fs::path path =
      fs::path(RAFT_SCENARIO_TESTDATA) / (GetParam() + ".txt");
  absl::StatusOr<ScenarioFile> file = ParseScenario(ReadFile(path));
  ASSERT_TRUE(file.ok()) << path << ": " << file.status();
  Runner runner;
  std::vector<std::string> outputs;
  for (const Block& block : file->blocks) {
    const std::string where = absl::StrCat(path.string(), ":", block.line);
    std::string output;
    absl::StatusOr<Command> cmd = ParseCommand(block.command);
    absl::StatusOr<std::string> out =
        cmd.ok() ? runner.Run(*cmd) : absl::StatusOr<std::string>(cmd.status());
    if (out.ok()) {
      output = *out;
    } else {
      ADD_FAILURE() << where << ": script error: " << out.status();
      output = absl::StrCat("script error: ", out.status().ToString(), "\n");
    }
    for (const std::string& v : runner.CheckInvariants()) {
      ADD_FAILURE() << where << ": INVARIANT VIOLATED after `" << block.command
                    << "`: " << v;
    }
    EXPECT_EQ(output.find("\n\n"), std::string::npos)
        << where << ": output contains a blank line";
    if (!RewriteMode()) {
      EXPECT_EQ(block.expected, output)
          << where << ": `" << block.command << "`";
    }
    outputs.push_back(std::move(output));
  }
  if (RewriteMode()) {
    std::ofstream(path) << RenderScenario(*file, outputs);
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest,
                         ::testing::ValuesIn(ScenarioNames()),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) {
                               c = '_';
                             }
                           }
                           return name;
                         });

}  // namespace
}  // namespace raftkv::raft::scenario
