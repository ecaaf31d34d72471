// txn (etcdctl's txn_command.go): reads compares, then success ops, then
// failure ops from stdin, each block ended by an empty line; with -i it
// prompts for each block. Compare lines look like
//   value("key") = "v"     version("key") > "1"     mod("k") < "9"
//   create("k") != "0"     lease("k") = "0"
// and op lines use the get/put/del syntax ("put k v --prev-kv").
#include <iostream>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "cmd/raftkvctl/command.h"
#include "cmd/raftkvctl/format.h"
#include "cmd/raftkvctl/ops.h"
#include "cmd/raftkvctl/printer.h"

namespace raftkv::ctl {
namespace {

bool interactive = false;

// Parses a Go quoted string ("..." with escapes, or `raw`) at s[*pos],
// advancing *pos past it.
std::optional<std::string> ParseGoQuoted(const std::string& s, size_t* pos) {
  size_t i = *pos;
  if (i >= s.size()) return std::nullopt;
  if (s[i] == '`') {
    size_t end = s.find('`', i + 1);
    if (end == std::string::npos) return std::nullopt;
    *pos = end + 1;
    return s.substr(i + 1, end - i - 1);
  }
  if (s[i] != '"') return std::nullopt;
  std::string out;
  for (++i; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      *pos = i + 1;
      return out;
    }
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= s.size()) return std::nullopt;
    switch (s[i]) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '"':
        out.push_back('"');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case 'x': {
        int v = 0;
        if (i + 2 >= s.size() || !absl::SimpleHexAtoi(s.substr(i + 1, 2), &v)) {
          return std::nullopt;
        }
        out.push_back(static_cast<char>(v));
        i += 2;
        break;
      }
      default:
        if (s[i] >= '0' && s[i] <= '7' && i + 2 < s.size()) {
          int v = (s[i] - '0') * 64 + (s[i + 1] - '0') * 8 + (s[i + 2] - '0');
          out.push_back(static_cast<char>(v));
          i += 2;
          break;
        }
        return std::nullopt;
    }
  }
  return std::nullopt;
}

// etcdctl's argify: splits a line into words; "double-quoted" words are
// unquoted Go-style, 'single-quoted' ones taken literally.
std::vector<std::string> Argify(const std::string& line) {
  std::vector<std::string> args;
  size_t i = 0;
  while (i < line.size()) {
    if (absl::ascii_isspace(static_cast<unsigned char>(line[i]))) {
      ++i;
      continue;
    }
    if (line[i] == '"') {
      size_t pos = i;
      std::optional<std::string> word = ParseGoQuoted(line, &pos);
      if (!word) ExitWithError(kExitInvalidInput, "invalid syntax");
      args.push_back(*word);
      i = pos;
    } else if (line[i] == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string::npos) end = line.size();
      args.push_back(line.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      size_t end = i;
      while (end < line.size() &&
             !absl::ascii_isspace(static_cast<unsigned char>(line[end]))) {
        ++end;
      }
      args.push_back(line.substr(i, end - i));
      i = end;
    }
  }
  return args;
}

// Reads one line; a missing final newline is Go's io.EOF for etcdctl.
std::string ReadLine() {
  std::string line;
  if (!std::getline(std::cin, line) || std::cin.eof()) {
    ExitWithError(kExitInvalidInput, "EOF");
  }
  return std::string(absl::StripAsciiWhitespace(line));
}

etcdserverpb::Compare ParseCompare(const std::string& line) {
  const std::string malformed = "malformed comparison: " + line;
  size_t paren = line.find('(');
  if (paren == std::string::npos) ExitWithError(kExitInvalidInput, malformed);
  const std::string target = line.substr(0, paren);
  size_t pos = paren + 1;
  std::optional<std::string> key = ParseGoQuoted(line, &pos);
  if (!key || pos >= line.size() || line[pos] != ')') {
    ExitWithError(kExitInvalidInput, malformed);
  }
  ++pos;
  while (pos < line.size() && line[pos] == ' ') ++pos;
  size_t op_end = line.find(' ', pos);
  if (op_end == std::string::npos) ExitWithError(kExitInvalidInput, malformed);
  const std::string op = line.substr(pos, op_end - pos);
  pos = op_end;
  while (pos < line.size() && line[pos] == ' ') ++pos;
  std::optional<std::string> val = ParseGoQuoted(line, &pos);
  if (!val) ExitWithError(kExitInvalidInput, malformed);

  etcdserverpb::Compare cmp;
  cmp.set_key(*key);
  if (op == "=") {
    cmp.set_result(etcdserverpb::Compare::EQUAL);
  } else if (op == "!=") {
    cmp.set_result(etcdserverpb::Compare::NOT_EQUAL);
  } else if (op == ">") {
    cmp.set_result(etcdserverpb::Compare::GREATER);
  } else if (op == "<") {
    cmp.set_result(etcdserverpb::Compare::LESS);
  } else {
    ExitWithError(kExitInvalidInput, malformed + " (unknown op " + op + ")");
  }
  if (target == "val" || target == "value") {
    cmp.set_target(etcdserverpb::Compare::VALUE);
    cmp.set_value(*val);
    return cmp;
  }
  int64_t v = 0;
  if (!absl::SimpleAtoi(*val, &v)) {
    ExitWithError(kExitInvalidInput, "invalid txn compare request: " + line);
  }
  if (target == "ver" || target == "version") {
    cmp.set_target(etcdserverpb::Compare::VERSION);
    cmp.set_version(v);
  } else if (target == "c" || target == "create") {
    cmp.set_target(etcdserverpb::Compare::CREATE);
    cmp.set_create_revision(v);
  } else if (target == "m" || target == "mod") {
    cmp.set_target(etcdserverpb::Compare::MOD);
    cmp.set_mod_revision(v);
  } else if (target == "lease") {
    cmp.set_target(etcdserverpb::Compare::LEASE);
    cmp.set_lease(v);
  } else {
    ExitWithError(kExitInvalidInput,
                  malformed + " (unknown target " + target + ")");
  }
  return cmp;
}

etcdserverpb::RequestOp ParseOp(const std::string& line) {
  std::vector<std::string> words = Argify(line);
  if (words.size() < 2) {
    ExitWithError(kExitInvalidInput, "invalid txn compare request: " + line);
  }
  const std::string invalid = "invalid txn request: " + line;
  std::vector<std::string> rest(words.begin() + 1, words.end());
  std::vector<std::string> args;
  FlagSet flags;
  etcdserverpb::RequestOp op;
  if (words[0] == "get") {
    GetFlags f;
    f.Register(flags);
    if (!flags.Parse(rest, &args).ok())
      ExitWithError(kExitInvalidInput, invalid);
    *op.mutable_request_range() = BuildRange(f, args);
  } else if (words[0] == "put") {
    PutFlags f;
    f.Register(flags);
    if (!flags.Parse(rest, &args).ok())
      ExitWithError(kExitInvalidInput, invalid);
    *op.mutable_request_put() = BuildPut(f, args, /*allow_stdin=*/false);
  } else if (words[0] == "del") {
    DelFlags f;
    f.Register(flags);
    if (!flags.Parse(rest, &args).ok())
      ExitWithError(kExitInvalidInput, invalid);
    *op.mutable_request_delete_range() = BuildDel(f, args);
  } else {
    ExitWithError(kExitInvalidInput, invalid);
  }
  return op;
}

void Prompt(const char* text) {
  if (interactive) std::cout << text << std::endl;
}

void ReadOps(google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>* ops) {
  for (std::string line = ReadLine(); !line.empty(); line = ReadLine()) {
    *ops->Add() = ParseOp(line);
  }
}

}  // namespace

void RegisterTxnFlags(FlagSet& flags) {
  flags.Bool("interactive", 'i', &interactive);
}

int RunTxn(Context& ctx, const std::vector<std::string>& args) {
  if (!args.empty()) {
    ExitWithError(kExitBadArgs, "txn command does not accept argument");
  }
  client::Client& c = ctx.client();
  etcdserverpb::TxnRequest req;
  Prompt("compares:");
  for (std::string line = ReadLine(); !line.empty(); line = ReadLine()) {
    *req.add_compare() = ParseCompare(line);
  }
  Prompt("success requests (get, put, del):");
  ReadOps(req.mutable_success());
  Prompt("failure requests (get, put, del):");
  ReadOps(req.mutable_failure());
  auto resp = c.Txn(req);
  if (!resp.ok()) ExitWithError(kExitError, ErrorText(resp.status()));
  Printer(ctx.globals().write_out, ctx.globals().hex).Txn(*resp);
  return kExitSuccess;
}

}  // namespace raftkv::ctl
