#include "kv/backup/etcd_schema.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace raftkv::kv::backup {
namespace {

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// proto3 leaves zero-valued scalars out, as gogoproto's marshaller does.
void PutIntField(std::string* out, int field, int64_t v) {
  if (v == 0) return;
  PutVarint(out, static_cast<uint64_t>(field) << 3);  // wire type 0
  PutVarint(out, static_cast<uint64_t>(v));
}

// Go's encoding/json string quoting: the HTML-sensitive <, > and & and the
// line separators U+2028/2029 are escaped too, as json.Marshal does.
void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out->append("\\\"");
        continue;
      case '\\':
        out->append("\\\\");
        continue;
      case '\n':
        out->append("\\n");
        continue;
      case '\r':
        out->append("\\r");
        continue;
      case '\t':
        out->append("\\t");
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      absl::StrAppendFormat(out, "\\u%04x", c);
    } else if (c == 0xe2 && i + 2 < s.size() && s[i + 1] == '\x80' &&
               (s[i + 2] == '\xa8' || s[i + 2] == '\xa9')) {
      absl::StrAppendFormat(out, "\\u%04x",
                            s[i + 2] == '\xa8' ? 0x2028 : 0x2029);
      i += 2;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

void AppendJsonStrings(
    std::string* out,
    const google::protobuf::RepeatedPtrField<std::string>& v) {
  out->push_back('[');
  for (int i = 0; i < v.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, v[i]);
  }
  out->push_back(']');
}

}  // namespace

std::string BigEndian64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

static uint64_t ReadBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string EncodeRevision(const Revision& rev) {
  std::string out = BigEndian64(static_cast<uint64_t>(rev.main));
  out.push_back('_');
  out += BigEndian64(static_cast<uint64_t>(rev.sub));
  if (rev.tombstone) out.push_back('t');
  return out;
}

std::optional<Revision> DecodeRevision(std::string_view raw) {
  if (raw.size() != 17 && !(raw.size() == 18 && raw[17] == 't')) {
    return std::nullopt;
  }
  if (raw[8] != '_') return std::nullopt;
  Revision rev;
  rev.main = static_cast<int64_t>(ReadBigEndian64(raw.substr(0, 8)));
  rev.sub = static_cast<int64_t>(ReadBigEndian64(raw.substr(9, 8)));
  rev.tombstone = raw.size() == 18;
  return rev;
}

std::string EncodeLease(const kvpb::LeaseRecord& lease) {
  std::string out;
  PutIntField(&out, 1, lease.id());
  PutIntField(&out, 2, lease.ttl());
  PutIntField(&out, 3, lease.remaining_ttl());
  return out;
}

std::optional<kvpb::LeaseRecord> DecodeLease(std::string_view raw) {
  kvpb::LeaseRecord lease;
  size_t pos = 0;
  while (pos < raw.size()) {
    uint64_t tag = 0, v = 0;
    if (!GetVarint(raw, &pos, &tag) || (tag & 7) != 0) return std::nullopt;
    if (!GetVarint(raw, &pos, &v)) return std::nullopt;
    switch (tag >> 3) {
      case 1:
        lease.set_id(static_cast<int64_t>(v));
        break;
      case 2:
        lease.set_ttl(static_cast<int64_t>(v));
        break;
      case 3:
        lease.set_remaining_ttl(static_cast<int64_t>(v));
        break;
      default:
        break;  // a field of a later etcd: ignored, as proto3 does
    }
  }
  return lease;
}

std::string MemberKey(uint64_t id) { return absl::StrFormat("%x", id); }

std::string MemberJson(const kvpb::Member& m) {
  std::string out = absl::StrCat("{\"id\":", m.id(), ",\"peerURLs\":");
  AppendJsonStrings(&out, m.peer_urls());
  if (m.is_learner()) out.append(",\"isLearner\":true");
  if (!m.name().empty()) {
    out.append(",\"name\":");
    AppendJsonString(&out, m.name());
  }
  if (!m.client_urls().empty()) {
    out.append(",\"clientURLs\":");
    AppendJsonStrings(&out, m.client_urls());
  }
  out.push_back('}');
  return out;
}

}  // namespace raftkv::kv::backup
