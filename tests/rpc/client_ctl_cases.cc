// The etcdctl-compatibility script; see client_ctl_cases.h.
#include "tests/rpc/client_ctl_cases.h"

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace raftkv::testing {

const std::vector<CtlCase>& CtlCompatCases() {
  static const std::vector<CtlCase>* cases = new std::vector<CtlCase>{
      // put and get, simple and json.
      {{"put", "foo", "bar"}},
      {{"put", "foo2", ""}},
      {{"put", "fop", "x", "-w", "json"}},
      {{"put", "foo", "baz", "--prev-kv"}},
      {{"put", "foo", "qux", "--prev-kv", "-w", "json"}},
      {{"put", "stdin-key"}, "value from stdin"},
      {{"get", "foo"}},
      {{"get", "foo", "-w", "json"}},
      {{"get", "foo2", "-w", "json"}},
      {{"get", "missing", "-w", "json"}},
      {{"get", "f", "--prefix"}},
      {{"get", "f", "--prefix", "-w", "json"}},
      {{"get", "fo", "--prefix", "--keys-only"}},
      {{"get", "fo", "--prefix", "--keys-only", "-w", "json"}},
      {{"get", "", "--prefix", "-w", "json"}},
      {{"get", "foo", "--from-key"}},
      {{"get", "--from-key", ""}},
      {{"get", "a", "foo2"}},
      {{"get", "f", "--prefix", "--limit", "2", "-w", "json"}},
      {{"get", "f", "--prefix", "--sort-by", "MODIFY", "--order", "DESCEND"}},
      {{"get", "f", "--prefix", "--sort-by=value", "--order=ascend", "-w",
        "json"}},
      {{"get", "f", "--prefix", "--order", "DESCEND"}},
      {{"get", "foo", "--rev", "2"}},
      {{"get", "foo", "--rev", "2", "-w", "json"}},
      {{"get", "foo", "--print-value-only"}},
      {{"--hex", "get", "foo"}},
      {{"get", "foo", "--consistency", "s", "-w", "json"}},
      // get: argument and server errors.
      {{"get"}},
      {{"get", "f", "--prefix", "--from-key"}},
      {{"get", "f", "g", "--prefix"}},
      {{"get", "foo", "--print-value-only", "-w", "json"}},
      {{"get", "foo", "--sort-by", "NOPE"}},
      {{"get", "foo", "--rev", "1000"}},
      {{"get", "foo", "-w", "table"}},
      // put options and errors.
      {{"put", "foo", "--ignore-value", "-w", "json"}},
      {{"put", "nokey", "--ignore-value"}},
      {{"put", "k", "v", "--lease", "1234"}},
      {{"put", "k", "v", "--lease", "zz"}},
      {{"put", "k", "v", "--ignore-lease"}},
      {{"put", "foo", "--ignore-value", "x"}},
      // del.
      {{"del", "foo2", "--prev-kv"}},
      {{"del", "nope", "-w", "json"}},
      {{"del", "fo", "--prefix", "--prev-kv", "-w", "json"}},
      {{"put", "a1", "1"}},
      {{"put", "a2", "2"}},
      {{"put", "a3", "3"}},
      {{"del", "a2", "--from-key"}},
      {{"del", "a1", "a2"}},
      {{"del"}},
      // txn: stdin format and interactive prompts.
      {{"put", "t", "1"}},
      {{"txn"}, "value(\"t\") = \"1\"\n\nput t 2\nget t\n\nput t 3\n\n"},
      {{"txn", "-w", "json"},
       "value(\"t\") = \"1\"\n\nput t 2\n\nput t 3 --prev-kv\nget t\ndel "
       "nothing\n\n"},
      {{"txn", "-i"},
       "mod(\"t\") > \"0\"\nversion(\"t\") = \"3\"\n\nget t\n\n\n"},
      {{"txn", "-i", "-w", "json"},
       "create(\"t\") != \"0\"\nval(\"t\") < \"9\"\n\ndel t --prev-kv\n\n\n"},
      {{"txn"},
       "\n\nput \"quoted key\" \"two words\"\nget \"quoted key\"\n\n\n"},
      {{"txn"}, "bogus(\"t\") = \"1\"\n\n\n\n"},
      {{"txn"}, "value(\"t\") = \"1\"\n\nput t 2\nput t 3\n\n\n"},
      {{"txn"}, "\n\nfrob t\n\n\n"},
      {{"txn"}, "value(\"t\") = \"1\"\n"},
      {{"txn", "extra"}},
      // compaction.
      {{"compaction", "3"}},
      {{"compaction", "3"}},
      {{"compaction", "--physical", "4", "-w", "json"}},
      {{"get", "foo", "--rev", "2"}},
      {{"compaction", "1000"}},
      {{"compaction", "abc"}},
      {{"compaction"}},
      // cluster and endpoints.
      {{"member", "list"}},
      {{"member", "list", "-w", "json"}},
      {{"member", "list", "-w", "table"}},
      {{"endpoint", "status"}},
      {{"endpoint", "status", "-w", "json"}},
      {{"endpoint", "status", "-w", "table"}},
      {{"endpoint", "health"}},
      {{"endpoint", "health", "-w", "json"}},
      // Connection failures and failover.
      {{"--endpoints={dead}", "--dial-timeout=300ms", "get", "foo"}},
      {{"--endpoints={dead},{ep}", "get", "foo", "-w", "json"}},
      // Global flags after the command, etcdctl style.
      {{"get", "foo", "--write-out=json", "--command-timeout=3s"}},
  };
  return *cases;
}

std::string NormalizeCtlOutput(const std::string& text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "{\"level\":")) continue;
    lines.emplace_back(line);
  }
  std::string joined = absl::StrJoin(lines, "\n");
  static const std::regex kDuration(
      R"((took = |"took":")[0-9.]+(ns|µs|ms|s|m[0-9.]+s))");
  joined = std::regex_replace(joined, kDuration, "$1<duration>");
  // The server's database size moves while LevelDB flushes and compacts in
  // the background, so two reads a moment apart may differ; the format is
  // what is compared.
  static const std::regex kDbSizeJson(R"re("(dbSize|dbSizeInUse)":[0-9]+)re");
  static const std::regex kDbSizeText(R"([0-9.]+ (B|kB|MB|GB)( *)([,|]))");
  joined = std::regex_replace(joined, kDbSizeJson, "\"$1\":<size>");
  return std::regex_replace(joined, kDbSizeText, "<size>$2$3");
}

std::vector<std::string> ExpandCtlArgs(const CtlCase& c,
                                       const std::string& endpoint,
                                       const std::string& dead_endpoint) {
  std::vector<std::string> out;
  bool has_endpoints = false;
  for (const std::string& a : c.args) {
    has_endpoints |= absl::StartsWith(a, "--endpoints");
    out.push_back(absl::StrReplaceAll(
        a, {{"{ep}", endpoint}, {"{dead}", dead_endpoint}}));
  }
  if (!has_endpoints) out.insert(out.begin(), "--endpoints=" + endpoint);
  return out;
}

}  // namespace raftkv::testing
