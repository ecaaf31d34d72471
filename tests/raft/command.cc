// Parsing of scenario command lines (see command.h).
#include "tests/raft/command.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace raftkv::raft::scenario {
namespace {

absl::StatusOr<uint64_t> ToUint(const std::string& s) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("not a number: ", s));
  }
  return v;
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> ParseIdList(const std::string& s) {
  absl::string_view body = s;
  if (absl::ConsumePrefix(&body, "(") && !absl::ConsumeSuffix(&body, ")")) {
    return absl::InvalidArgumentError(absl::StrCat("unclosed list: ", s));
  }
  std::vector<uint64_t> ids;
  for (absl::string_view part : absl::StrSplit(body, ',', absl::SkipEmpty())) {
    absl::StatusOr<uint64_t> id = ToUint(std::string(part));
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  return ids;
}

absl::StatusOr<Command> ParseCommand(const std::string& line) {
  std::vector<std::string> tokens =
      absl::StrSplit(line, ' ', absl::SkipWhitespace());
  if (tokens.empty()) return absl::InvalidArgumentError("empty command");
  Command cmd;
  cmd.name = tokens[0];
  for (size_t i = 1; i < tokens.size(); ++i) {
    size_t eq = tokens[i].find('=');
    if (eq == std::string::npos || tokens[i][0] == '"') {
      cmd.args.push_back(tokens[i]);
    } else {
      cmd.options[tokens[i].substr(0, eq)] = tokens[i].substr(eq + 1);
    }
  }
  return cmd;
}

absl::StatusOr<uint64_t> Command::ArgUint(size_t i) const {
  if (i >= args.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": missing argument ", i + 1));
  }
  return ToUint(args[i]);
}

absl::StatusOr<std::vector<uint64_t>> Command::ArgUints(size_t from) const {
  std::vector<uint64_t> out;
  for (size_t i = from; i < args.size(); ++i) {
    absl::StatusOr<uint64_t> v = ToUint(args[i]);
    if (!v.ok()) return v.status();
    out.push_back(*v);
  }
  return out;
}

absl::StatusOr<uint64_t> Command::OptionUint(const std::string& key,
                                             uint64_t dflt) const {
  auto it = options.find(key);
  return it == options.end() ? dflt : ToUint(it->second);
}

absl::StatusOr<bool> Command::OptionBool(const std::string& key,
                                         bool dflt) const {
  auto it = options.find(key);
  if (it == options.end()) return dflt;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  return absl::InvalidArgumentError(
      absl::StrCat(key, "=", it->second, ": want true or false"));
}

absl::StatusOr<std::vector<uint64_t>> Command::OptionList(
    const std::string& key) const {
  auto it = options.find(key);
  if (it == options.end()) return std::vector<uint64_t>{};
  return ParseIdList(it->second);
}

absl::Status Command::CheckOptions(
    const std::vector<std::string>& allowed) const {
  for (const auto& [key, value] : options) {
    bool known = false;
    for (const std::string& a : allowed) known = known || a == key;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": unknown option ", key, "=", value));
    }
  }
  return absl::OkStatus();
}

}  // namespace raftkv::raft::scenario
