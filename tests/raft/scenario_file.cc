// Parsing and rendering of scenario scripts (see scenario_file.h).
#include "tests/raft/scenario_file.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace raftkv::raft::scenario {
namespace {

bool IsPreambleLine(const std::string& line) {
  return line.empty() || line[0] == '#';
}

}  // namespace

absl::StatusOr<ScenarioFile> ParseScenario(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  ScenarioFile file;
  std::string preamble;
  size_t i = 0;
  while (i < lines.size()) {
    if (IsPreambleLine(lines[i])) {
      absl::StrAppend(&preamble, lines[i++], "\n");
      continue;
    }
    Block block;
    block.preamble = std::move(preamble);
    preamble.clear();
    block.command = lines[i];
    block.line = static_cast<int>(i) + 1;
    if (++i >= lines.size() || lines[i] != "----") {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", block.line, ": command not followed by \"----\""));
    }
    ++i;
    while (i < lines.size() && !lines[i].empty()) {
      absl::StrAppend(&block.expected, lines[i++], "\n");
    }
    if (i < lines.size()) ++i;  // the blank line that ends the block
    file.blocks.push_back(std::move(block));
  }
  file.trailer = std::move(preamble);
  return file;
}

std::string RenderScenario(const ScenarioFile& file,
                           const std::vector<std::string>& outputs) {
  std::string out;
  for (size_t i = 0; i < file.blocks.size(); ++i) {
    const Block& b = file.blocks[i];
    // A block ends with a blank line, except the last one of the file when
    // nothing follows it.
    bool last = i + 1 == file.blocks.size() && file.trailer.empty();
    absl::StrAppend(&out, b.preamble, b.command, "\n----\n", outputs[i],
                    last ? "" : "\n");
  }
  absl::StrAppend(&out, file.trailer);
  return out;
}

}  // namespace raftkv::raft::scenario
