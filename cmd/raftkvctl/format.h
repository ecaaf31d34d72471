// Output formatting that reproduces etcdctl 3.4 byte for byte: Go's
// encoding/json rendering of etcd's protobuf structs, go-humanize sizes, Go's
// time.Duration strings, olekukonko/tablewriter tables and etcdctl's error
// text.
#ifndef RAFTKV_CMD_RAFTKVCTL_FORMAT_H_
#define RAFTKV_CMD_RAFTKVCTL_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"

namespace raftkv::ctl {

// `message` as Go's json.Marshal prints the gogo-generated struct that etcdctl
// uses: fields in declaration order named as in the .proto, every field
// `omitempty` (zero scalars, empty lists and unset messages left out),
// 64-bit integers as plain numbers, bytes in padded base64, enums as numbers,
// and a oneof as {"<OneofName>":{"<FieldName>":...}} in Go's CamelCase.
std::string GoJson(const google::protobuf::Message& message);

// A JSON string literal escaped like Go's encoding/json (HTML-safe).
std::string GoJsonString(absl::string_view s);

// go-humanize's Bytes(): SI units, e.g. "20 kB", "1.5 MB", "9 B".
std::string HumanizeBytes(uint64_t bytes);

// Go's time.Duration.String(), e.g. "1.617416ms", "2.5s", "1m3s".
std::string GoDuration(absl::Duration d);

// etcdctl --hex rendering: every byte as \xNN.
std::string HexEscaped(absl::string_view bytes);

// A table as etcdctl prints it with tablewriter: upper-case centred headers,
// right-aligned cells, +---+ borders.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// The text etcdctl prints after "Error: " for a failed call: etcd's own
// messages verbatim, "context deadline exceeded", or Go gRPC's
// "rpc error: code = X desc = Y" for anything else.
std::string ErrorText(const absl::Status& status);

}  // namespace raftkv::ctl

#endif  // RAFTKV_CMD_RAFTKVCTL_FORMAT_H_
