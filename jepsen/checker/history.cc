// A deliberately small JSON reader: the history format is flat (string,
// integer, null and integer-list values), so a full JSON library is not
// needed. Unknown fields are skipped, whatever their JSON type.
#include "jepsen/checker/history.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace raftkv::jepsen {
namespace {

class Reader {
 public:
  explicit Reader(absl::string_view s) : s_(s) {}

  void SkipSpace() {
    while (pos_ < s_.size() &&
           std::isspace(static_cast<unsigned char>(s_[pos_])))
      ++pos_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  char Peek() {
    SkipSpace();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= s_.size();
  }

  std::optional<std::string> String() {
    if (!Eat('"')) return std::nullopt;
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
      out.push_back(s_[pos_++]);
    }
    if (pos_ >= s_.size()) return std::nullopt;
    ++pos_;
    return out;
  }

  std::optional<int64_t> Int() {
    SkipSpace();
    size_t begin = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    while (pos_ < s_.size() &&
           std::isdigit(static_cast<unsigned char>(s_[pos_])))
      ++pos_;
    if (pos_ == begin) return std::nullopt;
    int64_t v = 0;
    if (!absl::SimpleAtoi(s_.substr(begin, pos_ - begin), &v))
      return std::nullopt;
    return v;
  }

  bool Literal(absl::string_view word) {
    SkipSpace();
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // Skips any JSON value (for unknown fields).
  bool SkipValue() {
    char c = Peek();
    if (c == '"') return String().has_value();
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++pos_;
      if (Eat(close)) return true;
      do {
        if (c == '{' && (!String() || !Eat(':'))) return false;
        if (!SkipValue()) return false;
      } while (Eat(','));
      return Eat(close);
    }
    if (Literal("null") || Literal("true") || Literal("false")) return true;
    SkipSpace();
    size_t begin = pos_;
    while (pos_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
            s_[pos_] == '-' || s_[pos_] == '.' || s_[pos_] == '+')) {
      ++pos_;
    }
    return pos_ > begin;
  }

 private:
  absl::string_view s_;
  size_t pos_ = 0;
};

absl::Status Bad(absl::string_view line, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("history: ", what, " in: ", line.substr(0, 200)));
}

absl::Status ParseValue(Reader& r, Op* op, absl::string_view line) {
  if (r.Literal("null")) return absl::OkStatus();
  op->has_value = true;
  if (r.Eat('[')) {
    op->is_list = true;
    if (r.Eat(']')) return absl::OkStatus();
    do {
      std::optional<int64_t> v = r.Int();
      if (!v) return Bad(line, "bad list element");
      op->value.push_back(*v);
    } while (r.Eat(','));
    if (!r.Eat(']')) return Bad(line, "unterminated list");
    return absl::OkStatus();
  }
  std::optional<int64_t> v = r.Int();
  if (!v) return Bad(line, "bad value");
  op->value.push_back(*v);
  return absl::OkStatus();
}

// Parses [[1,2],[3]] into `out`.
absl::Status ParseEvents(Reader& r, Op* op, absl::string_view line) {
  if (!r.Eat('[')) return Bad(line, "events must be a list of lists");
  if (r.Eat(']')) return absl::OkStatus();
  do {
    if (!r.Eat('[')) return Bad(line, "events must be a list of lists");
    std::vector<int64_t>& event = op->events.emplace_back();
    if (r.Eat(']')) continue;
    do {
      std::optional<int64_t> v = r.Int();
      if (!v) return Bad(line, "bad event element");
      event.push_back(*v);
    } while (r.Eat(','));
    if (!r.Eat(']')) return Bad(line, "unterminated event");
  } while (r.Eat(','));
  if (!r.Eat(']')) return Bad(line, "unterminated events");
  return absl::OkStatus();
}

}  // namespace

const char* OpTypeName(OpType t) {
  switch (t) {
    case OpType::kOk:
      return "ok";
    case OpType::kFail:
      return "fail";
    case OpType::kInfo:
      return "info";
  }
  return "?";
}

absl::StatusOr<Op> ParseOp(absl::string_view line) {
  Reader r(line);
  Op op;
  bool has_type = false, has_f = false;
  if (!r.Eat('{')) return Bad(line, "expected an object");
  if (r.Eat('}')) return Bad(line, "empty object");
  do {
    std::optional<std::string> name = r.String();
    if (!name || !r.Eat(':')) return Bad(line, "expected \"name\":");
    if (*name == "process" || *name == "start" || *name == "end") {
      std::optional<int64_t> v = r.Int();
      if (!v) return Bad(line, absl::StrCat("bad ", *name));
      (*name == "process" ? op.process
       : *name == "start" ? op.start
                          : op.end) = *v;
    } else if (*name == "f" || *name == "key" || *name == "type") {
      std::optional<std::string> v = r.String();
      if (!v) return Bad(line, absl::StrCat("bad ", *name));
      if (*name == "f") {
        op.f = *v;
        has_f = true;
      } else if (*name == "key") {
        op.key = *v;
      } else {
        has_type = true;
        if (*v == "ok") {
          op.type = OpType::kOk;
        } else if (*v == "fail") {
          op.type = OpType::kFail;
        } else if (*v == "info") {
          op.type = OpType::kInfo;
        } else {
          return Bad(line, "type must be ok, fail or info");
        }
      }
    } else if (*name == "value") {
      if (absl::Status s = ParseValue(r, &op, line); !s.ok()) return s;
    } else if (*name == "events") {
      if (absl::Status s = ParseEvents(r, &op, line); !s.ok()) return s;
    } else if (!r.SkipValue()) {
      return Bad(line, absl::StrCat("bad field ", *name));
    }
  } while (r.Eat(','));
  if (!r.Eat('}') || !r.AtEnd()) return Bad(line, "trailing text");
  if (!has_type || !has_f) return Bad(line, "missing f or type");
  if (op.end < op.start) return Bad(line, "end before start");
  return op;
}

absl::StatusOr<std::vector<Op>> ParseHistory(absl::string_view text) {
  std::vector<Op> ops;
  int64_t n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    if (line.find_first_not_of(" \t\r") == absl::string_view::npos) continue;
    absl::StatusOr<Op> op = ParseOp(line);
    if (!op.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", n, ": ", op.status().message()));
    }
    op->line = n;
    ops.push_back(*std::move(op));
  }
  return ops;
}

absl::StatusOr<std::vector<Op>> ReadHistoryFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseHistory(ss.str());
}

std::string FormatOp(const Op& op) {
  std::string value = "null";
  if (op.has_value) {
    value = op.is_list ? absl::StrCat("[", absl::StrJoin(op.value, ","), "]")
                       : absl::StrCat(op.scalar());
  }
  std::string events;
  if (!op.events.empty()) {
    events = ",\"events\":[";
    for (size_t i = 0; i < op.events.size(); ++i) {
      absl::StrAppend(&events, i ? "," : "", "[",
                      absl::StrJoin(op.events[i], ","), "]");
    }
    events += "]";
  }
  return absl::StrCat("{\"process\":", op.process, ",\"f\":\"", op.f,
                      "\",\"key\":\"", op.key, "\",\"value\":", value, events,
                      ",\"type\":\"", OpTypeName(op.type),
                      "\",\"start\":", op.start, ",\"end\":", op.end, "}");
}

void AppendViolations(
    const std::map<std::string, int64_t>& violations,
    const std::map<std::string, std::vector<std::string>>& examples,
    std::string* out) {
  for (const auto& [g, n] : violations) {
    absl::StrAppend(out, "  ", g, ": ", n, " violation(s)\n");
    auto it = examples.find(g);
    if (it == examples.end()) continue;
    for (const std::string& e : it->second) {
      absl::StrAppend(out, "    ", e, "\n");
    }
  }
}

}  // namespace raftkv::jepsen
