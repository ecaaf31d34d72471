// Output formatting; see format.h.
#include "cmd/raftkvctl/format.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"

namespace raftkv::ctl {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Go's exported name of a proto field: snake_case to CamelCase.
std::string GoName(absl::string_view proto_name) {
  std::string out;
  bool upper = true;
  for (char c : proto_name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? absl::ascii_toupper(c) : c);
    upper = false;
  }
  return out;
}

void AppendMessage(const Message& m, std::string* out);

// One value of `field` (element `index` when repeated, else -1).
void AppendValue(const Message& m, const FieldDescriptor* f, int index,
                 std::string* out) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      absl::StrAppend(
          out, rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      absl::StrAppend(
          out, rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      absl::StrAppend(
          out, rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      absl::StrAppend(
          out, rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      absl::StrAppend(out,
                      (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f))
                          ? "true"
                          : "false");
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      absl::StrAppend(out, rep ? r->GetRepeatedEnumValue(m, f, index)
                               : r->GetEnumValue(m, f));
      break;
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s =
          rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        absl::StrAppend(out, "\"", absl::Base64Escape(s), "\"");
      } else {
        absl::StrAppend(out, GoJsonString(s));
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      AppendMessage(
          rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), out);
      break;
    default:
      absl::StrAppend(out, "null");
  }
}

// Whether Go's omitempty would print the (non-repeated) field.
bool IsSet(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  if (f->is_repeated()) return r->FieldSize(m, f) > 0;
  // Proto3 scalars report HasField exactly when non-zero; messages when set.
  return r->HasField(m, f);
}

void AppendField(const Message& m, const FieldDescriptor* f, std::string* out) {
  if (!f->is_repeated()) {
    AppendValue(m, f, -1, out);
    return;
  }
  out->push_back('[');
  const int n = m.GetReflection()->FieldSize(m, f);
  for (int i = 0; i < n; ++i) {
    if (i > 0) out->push_back(',');
    AppendValue(m, f, i, out);
  }
  out->push_back(']');
}

void AppendMessage(const Message& m, std::string* out) {
  const auto* d = m.GetDescriptor();
  out->push_back('{');
  bool first = true;
  auto key = [&](absl::string_view name) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, "\"", name, "\":");
  };
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const auto* oneof = f->real_containing_oneof();
    if (oneof != nullptr) {
      // Go places the oneof's interface field where its first member is.
      if (oneof->field(0) != f) continue;
      const FieldDescriptor* set =
          m.GetReflection()->GetOneofFieldDescriptor(m, oneof);
      if (set == nullptr) continue;
      key(GoName(oneof->name()));
      absl::StrAppend(out, "{\"", GoName(set->name()), "\":");
      AppendField(m, set, out);
      out->push_back('}');
      continue;
    }
    if (!IsSet(m, f)) continue;
    key(f->name());
    AppendField(m, f, out);
  }
  out->push_back('}');
}

}  // namespace

std::string GoJson(const google::protobuf::Message& message) {
  std::string out;
  AppendMessage(message, &out);
  return out;
}

std::string GoJsonString(absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      absl::StrAppend(&out, "\\u00", std::string(1, kHex[c >> 4]),
                      std::string(1, kHex[c & 0xf]));
      continue;
    }
    // U+2028 and U+2029 are escaped so the output is valid JavaScript.
    if (c == 0xe2 && i + 2 < s.size() && s[i + 1] == '\x80' &&
        (s[i + 2] == '\xa8' || s[i + 2] == '\xa9')) {
      out += s[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
      continue;
    }
    out.push_back(static_cast<char>(c));
  }
  out.push_back('"');
  return out;
}

std::string HumanizeBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (bytes < 10) return absl::StrFormat("%d B", bytes);
  const double value = static_cast<double>(bytes);
  const int e = static_cast<int>(std::floor(std::log(value) / std::log(1000)));
  const double scaled = std::floor(value / std::pow(1000, e) * 10 + 0.5) / 10;
  return absl::StrFormat(scaled < 10 ? "%.1f %s" : "%.0f %s", scaled,
                         kUnits[e]);
}

namespace {

// `v` / 10^digits as a decimal with trailing zeros (and point) removed.
std::string FixedPoint(uint64_t v, int digits) {
  std::string whole =
      absl::StrCat(v / static_cast<uint64_t>(std::pow(10, digits)));
  std::string frac = absl::StrFormat(
      "%0*d", digits, v % static_cast<uint64_t>(std::pow(10, digits)));
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return frac.empty() ? whole : absl::StrCat(whole, ".", frac);
}

}  // namespace

std::string GoDuration(absl::Duration d) {
  const bool negative = d < absl::ZeroDuration();
  uint64_t ns =
      static_cast<uint64_t>(absl::ToInt64Nanoseconds(negative ? -d : d));
  std::string sign = negative ? "-" : "";
  if (ns == 0) return "0s";
  if (ns < 1000) return absl::StrCat(sign, ns, "ns");
  if (ns < 1000000) return absl::StrCat(sign, FixedPoint(ns, 3), "µs");
  if (ns < 1000000000) return absl::StrCat(sign, FixedPoint(ns, 6), "ms");
  std::string out = sign;
  const uint64_t hours = ns / 3600000000000ULL;
  ns %= 3600000000000ULL;
  const uint64_t minutes = ns / 60000000000ULL;
  ns %= 60000000000ULL;
  if (hours > 0) absl::StrAppend(&out, hours, "h");
  if (hours > 0 || minutes > 0) absl::StrAppend(&out, minutes, "m");
  absl::StrAppend(&out, FixedPoint(ns, 9), "s");
  return out;
}

std::string HexEscaped(absl::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) absl::StrAppendFormat(&out, "\\x%02x", c);
  return out;
}

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  std::string border = "+";
  for (size_t w : width) absl::StrAppend(&border, std::string(w + 2, '-'), "+");
  border += "\n";
  std::string out = border + "|";
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string title = absl::AsciiStrToUpper(header[c]);
    const size_t pad = width[c] - title.size();
    absl::StrAppend(&out, " ", std::string(pad / 2, ' '), title,
                    std::string(pad - pad / 2, ' '), " |");
  }
  absl::StrAppend(&out, "\n", border);
  for (const auto& row : rows) {
    out += "|";
    for (size_t c = 0; c < row.size(); ++c) {
      absl::StrAppend(&out, " ", std::string(width[c] - row[c].size(), ' '),
                      row[c], " |");
    }
    out += "\n";
  }
  out += border;  // tablewriter closes even an empty table
  return out;
}

std::string ErrorText(const absl::Status& status) {
  static const char* kCodeNames[] = {"OK",
                                     "Canceled",
                                     "Unknown",
                                     "InvalidArgument",
                                     "DeadlineExceeded",
                                     "NotFound",
                                     "AlreadyExists",
                                     "PermissionDenied",
                                     "ResourceExhausted",
                                     "FailedPrecondition",
                                     "Aborted",
                                     "OutOfRange",
                                     "Unimplemented",
                                     "Internal",
                                     "Unavailable",
                                     "DataLoss",
                                     "Unauthenticated"};
  const std::string message(status.message());
  if (absl::StartsWith(message, "etcdserver: ") ||
      message == "context deadline exceeded") {
    return message;
  }
  const int code = static_cast<int>(status.code());
  const char* name = code >= 0 && code <= 16 ? kCodeNames[code] : "Unknown";
  return absl::StrCat("rpc error: code = ", name, " desc = ", message);
}

}  // namespace raftkv::ctl
