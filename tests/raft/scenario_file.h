// ScenarioFile: reads and writes the plain-text scenario scripts under
// tests/raft/testdata (format described in docs/raft-scenarios.md).
//
// A file is a sequence of blocks:
//
//   # optional comment lines (and blank lines) kept verbatim
//   command arg key=value
//   ----
//   expected output, one or more non-blank lines
//   <blank line or end of file>
//
// Parsing keeps every byte that is not expected output, so Render() with the
// actual outputs substituted reproduces the file exactly (--rewrite mode).
#ifndef RAFTKV_TESTS_RAFT_SCENARIO_FILE_H_
#define RAFTKV_TESTS_RAFT_SCENARIO_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace raftkv::raft::scenario {

struct Block {
  std::string preamble;  // comment and blank lines before the command
  std::string command;   // the command line, without the newline
  int line = 0;          // 1-based line number of the command in the file
  std::string expected;  // expected output, newline-terminated lines
};

struct ScenarioFile {
  std::vector<Block> blocks;
  std::string trailer;  // comments/blank lines after the last block
};

// Parses `text`; fails with the line number on a command missing its "----".
absl::StatusOr<ScenarioFile> ParseScenario(const std::string& text);

// Renders `file` back to text, with each block's expected output replaced by
// outputs[i] (newline-terminated, no blank lines).
// REQUIRES: outputs.size() == file.blocks.size().
std::string RenderScenario(const ScenarioFile& file,
                           const std::vector<std::string>& outputs);

}  // namespace raftkv::raft::scenario

#endif  // RAFTKV_TESTS_RAFT_SCENARIO_FILE_H_
