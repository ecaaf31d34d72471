// FlagSet; see flags.h.
#include "cmd/raftkvctl/flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace raftkv::ctl {

void FlagSet::Bool(const std::string& name, char shorthand, bool* target) {
  flags_[name] = {Type::kBool, target};
  if (shorthand != 0) shorthands_[shorthand] = name;
}

void FlagSet::String(const std::string& name, char shorthand,
                     std::string* target) {
  flags_[name] = {Type::kString, target};
  if (shorthand != 0) shorthands_[shorthand] = name;
}

void FlagSet::Int64(const std::string& name, char shorthand, int64_t* target) {
  flags_[name] = {Type::kInt64, target};
  if (shorthand != 0) shorthands_[shorthand] = name;
}

const FlagSet::Flag* FlagSet::Find(const std::string& name) const {
  auto it = flags_.find(name);
  if (it != flags_.end()) return &it->second;
  if (name.size() == 1) {
    auto sh = shorthands_.find(name[0]);
    if (sh != shorthands_.end()) return &flags_.at(sh->second);
  }
  return nullptr;
}

bool FlagSet::TakesValue(const std::string& name) const {
  const Flag* flag = Find(name);
  return flag != nullptr && flag->type != Type::kBool;
}

absl::Status FlagSet::Set(const std::string& display, const Flag& flag,
                          const std::string& value) const {
  switch (flag.type) {
    case Type::kBool:
      if (value == "true" || value == "1" || value == "t" || value == "T" ||
          value == "TRUE" || value == "True") {
        *static_cast<bool*>(flag.target) = true;
      } else if (value == "false" || value == "0" || value == "f" ||
                 value == "F" || value == "FALSE" || value == "False") {
        *static_cast<bool*>(flag.target) = false;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid argument \"", value, "\" for \"", display,
                         "\" flag: strconv.ParseBool: parsing \"", value,
                         "\": invalid syntax"));
      }
      return absl::OkStatus();
    case Type::kString:
      *static_cast<std::string*>(flag.target) = value;
      return absl::OkStatus();
    case Type::kInt64:
      if (!absl::SimpleAtoi(value, static_cast<int64_t*>(flag.target))) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid argument \"", value, "\" for \"", display,
                         "\" flag: strconv.ParseInt: parsing \"", value,
                         "\": invalid syntax"));
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args,
                            std::vector<std::string>* positional) const {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional->insert(positional->end(), args.begin() + i + 1, args.end());
      return absl::OkStatus();
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional->push_back(arg);
      continue;
    }
    const bool is_long = arg[1] == '-';
    std::string body = arg.substr(is_long ? 2 : 1);
    std::string name = body;
    std::string value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    } else if (!is_long && body.size() > 1) {
      // "-wjson": shorthand with the value attached.
      name = body.substr(0, 1);
      value = body.substr(1);
      has_value = true;
    }
    const Flag* flag = is_long || name.size() == 1 ? Find(name) : nullptr;
    if (flag == nullptr || (is_long && name.size() == 1)) {
      return absl::InvalidArgumentError(
          is_long ? absl::StrCat("unknown flag: --", name)
                  : absl::StrCat("unknown shorthand flag: '", name.substr(0, 1),
                                 "' in ", arg));
    }
    const std::string display = is_long ? "--" + name : "-" + name;
    if (!has_value) {
      if (flag->type == Type::kBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("flag needs an argument: ", display));
      }
    }
    if (absl::Status s = Set(display, *flag, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace raftkv::ctl
