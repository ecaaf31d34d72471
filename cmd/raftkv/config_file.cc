#include "cmd/raftkv/config_file.h"

#include <cstdint>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "yaml-cpp/yaml.h"

namespace raftkv::cmd {
namespace {

// etcd 3.4 takes TLS settings from the file only in these two maps, with
// these five keys each (embed's securityConfig); prefix "" or "peer-".
constexpr const char* kSecurityKeys[] = {
    "cert-file", "key-file", "client-cert-auth", "trusted-ca-file", "auto-tls"};

bool IsSecurityFlag(const std::string& name) {
  for (const char* key : kSecurityKeys) {
    if (name == key || name == absl::StrCat("peer-", key)) return true;
  }
  return false;
}

absl::Status KeyError(const std::string& path, const std::string& key,
                      absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": key \"", key, "\": ", what));
}

// The flag-syntax value for `node`, or an error naming file and key.
absl::StatusOr<std::string> ScalarValue(const std::string& path,
                                        const std::string& key,
                                        const FlagSpec& spec,
                                        const YAML::Node& node) {
  if (node.IsSequence() && spec.kind == FlagKind::kStrings) {
    std::vector<std::string> items;
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) {
        return KeyError(path, key, "expected a list of strings");
      }
      items.push_back(item.Scalar());
    }
    return absl::StrJoin(items, ",");
  }
  if (!node.IsScalar()) {
    return KeyError(path, key,
                    node.IsMap() ? "expected a value, not a map"
                                 : "expected a value, not a list");
  }
  std::string text = node.Scalar();
  if (spec.kind == FlagKind::kBool) {
    // YAML 1.1's booleans, which etcd's YAML reader takes, besides Go's.
    const std::string lower = absl::AsciiStrToLower(text);
    if (lower == "yes" || lower == "on" || lower == "y") text = "true";
    if (lower == "no" || lower == "off" || lower == "n") text = "false";
  }
  int64_t nanos = 0;
  if (spec.kind == FlagKind::kDuration && absl::SimpleAtoi(text, &nanos)) {
    text = absl::StrCat(nanos, "ns");
  }
  if (absl::Status s = CheckValue(spec, text); !s.ok()) {
    return KeyError(
        path, key,
        absl::StrCat("invalid value \"", node.Scalar(), "\": ", s.message()));
  }
  return text;
}

absl::Status ReadSecurity(const std::string& path, const std::string& key,
                          const std::string& prefix, const YAML::Node& map,
                          FlagValues* values, std::vector<std::string>* log) {
  if (map.IsNull()) return absl::OkStatus();
  if (!map.IsMap()) return KeyError(path, key, "expected a map");
  for (const auto& item : map) {
    const std::string sub = item.first.Scalar();
    const std::string full = absl::StrCat(key, ".", sub);
    bool known = false;
    for (const char* k : kSecurityKeys) known = known || sub == k;
    if (!known) {
      log->push_back(absl::StrCat(path, ": unknown key \"", full,
                                  "\" ignored (etcd 3.4 has no such key)"));
      continue;
    }
    if (item.second.IsNull()) continue;
    const std::string name = prefix + sub;
    auto value = ScalarValue(path, full, *FindFlag(name), item.second);
    if (!value.ok()) return value.status();
    values->Set(name, *value, absl::StrCat(path, ": key ", full));
  }
  return absl::OkStatus();
}

absl::StatusOr<FlagValues> FromYaml(const std::string& path,
                                    const YAML::Node& root,
                                    std::vector<std::string>* log) {
  FlagValues values;
  if (root.IsNull()) return values;
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a map of etcd configuration keys"));
  }
  for (const auto& item : root) {
    const std::string key = item.first.Scalar();
    if (key == "client-transport-security" ||
        key == "peer-transport-security") {
      absl::Status s = ReadSecurity(path, key, key[0] == 'p' ? "peer-" : "",
                                    item.second, &values, log);
      if (!s.ok()) return s;
      continue;
    }
    const FlagSpec* spec = FindFlag(key);
    if (spec == nullptr || spec->support == FlagSupport::kAction ||
        spec->support == FlagSupport::kLegacy || IsSecurityFlag(key)) {
      log->push_back(absl::StrCat(
          path, ": unknown key \"", key, "\" ignored",
          spec != nullptr && IsSecurityFlag(key)
              ? " (TLS settings go under client-transport-security or "
                "peer-transport-security)"
              : ""));
      continue;
    }
    if (item.second.IsNull()) continue;  // as etcd: the default stays
    auto value = ScalarValue(path, key, *spec, item.second);
    if (!value.ok()) return value.status();
    values.Set(key, *value, absl::StrCat(path, ": key ", key));
  }
  return values;
}

}  // namespace

absl::StatusOr<FlagValues> ReadConfigFile(const std::string& path,
                                          std::vector<std::string>* log) {
  // yaml-cpp reports by exception; none leaves this function.
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read the configuration file"));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": line ", e.mark.line + 1, ": ", e.msg));
  }
  try {
    return FromYaml(path, root, log);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": line ", e.mark.line + 1, ": ", e.msg));
  }
}

}  // namespace raftkv::cmd
