#include "kv/key_layout.h"

#include <limits>

namespace raftkv::kv::layout {
namespace {

void AppendEscaped(std::string* out, std::string_view key) {
  for (char c : key) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
}

}  // namespace

std::string EncodeFixed64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t DecodeFixed64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string CurrentKey(std::string_view key) {
  std::string out(1, kCurrentTag);
  out.append(key);
  return out;
}

std::string EncodeMeta(const KeyMeta& meta) {
  return EncodeFixed64(meta.create_revision) +
         EncodeFixed64(meta.mod_revision) + EncodeFixed64(meta.version) +
         EncodeFixed64(meta.lease);
}

std::optional<KeyMeta> DecodeMeta(std::string_view in) {
  if (in.size() != 32) return std::nullopt;
  KeyMeta m;
  m.create_revision = static_cast<int64_t>(DecodeFixed64(in.substr(0)));
  m.mod_revision = static_cast<int64_t>(DecodeFixed64(in.substr(8)));
  m.version = static_cast<int64_t>(DecodeFixed64(in.substr(16)));
  m.lease = static_cast<int64_t>(DecodeFixed64(in.substr(24)));
  return m;
}

std::string HistoryLowerBound(std::string_view key) {
  std::string out(1, kHistoryTag);
  AppendEscaped(&out, key);
  return out;
}

std::string HistoryKey(std::string_view key, int64_t main, int64_t sub) {
  std::string out = HistoryLowerBound(key);
  out.append("\x00\x01", 2);
  out.append(EncodeFixed64(~static_cast<uint64_t>(main)));
  out.append(EncodeFixed64(~static_cast<uint64_t>(sub)));
  return out;
}

std::string HistorySeekKey(std::string_view key, int64_t rev) {
  return HistoryKey(key, rev, std::numeric_limits<int64_t>::max());
}

std::string HistoryPastKey(std::string_view key) {
  std::string out = HistoryLowerBound(key);
  out.append("\x00\x02", 2);
  return out;
}

std::optional<HistoryKeyParts> ParseHistoryKey(std::string_view raw) {
  if (raw.empty() || raw[0] != kHistoryTag) return std::nullopt;
  HistoryKeyParts parts;
  size_t i = 1;
  while (i + 1 < raw.size()) {
    if (raw[i] != '\0') {
      parts.key.push_back(raw[i++]);
      continue;
    }
    if (raw[i + 1] == '\xff') {
      parts.key.push_back('\0');
      i += 2;
      continue;
    }
    if (raw[i + 1] != '\x01' || raw.size() != i + 2 + 16) return std::nullopt;
    parts.main = static_cast<int64_t>(~DecodeFixed64(raw.substr(i + 2)));
    parts.sub = static_cast<int64_t>(~DecodeFixed64(raw.substr(i + 10)));
    return parts;
  }
  return std::nullopt;
}

std::string ChangeKey(int64_t main, int64_t sub) {
  std::string out(1, kChangeTag);
  out.append(EncodeFixed64(main));
  out.append(EncodeFixed64(sub));
  return out;
}

std::optional<ChangeKeyParts> ParseChangeKey(std::string_view raw) {
  if (raw.size() != 17 || raw[0] != kChangeTag) return std::nullopt;
  return ChangeKeyParts{static_cast<int64_t>(DecodeFixed64(raw.substr(1))),
                        static_cast<int64_t>(DecodeFixed64(raw.substr(9)))};
}

std::string LeaseKey(int64_t id) {
  return std::string(1, kLeaseTag) + EncodeFixed64(static_cast<uint64_t>(id));
}

std::string AlarmKey(int32_t alarm, uint64_t member_id) {
  return std::string(1, kAlarmTag) +
         EncodeFixed64(static_cast<uint64_t>(static_cast<int64_t>(alarm))) +
         EncodeFixed64(member_id);
}

std::string LeaseKeyIndexKey(int64_t id, std::string_view key) {
  std::string out(1, kLeaseKeyTag);
  out += EncodeFixed64(static_cast<uint64_t>(id));
  out.append(key);
  return out;
}

}  // namespace raftkv::kv::layout
