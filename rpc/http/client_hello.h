// Reading a TLS ClientHello's ALPN list from the bytes a client sent first,
// without consuming them (the client mux peeks them with MSG_PEEK), so that
// an https client port can tell gRPC clients (ALPN "h2" only) from HTTP/1.1
// ones (curl offers "h2,http/1.1") before anybody answers the handshake.
//
// The bytes come from the network: every length is checked against what is
// there and against what encloses it; nothing here trusts them (STYLE 17).
// Only a ClientHello carried whole in the first TLS record is accepted (the
// record limit is 16 KiB; real ClientHellos are under 2 KiB): one spread
// over several records is refused as too large.
#ifndef RAFTKV_RPC_HTTP_CLIENT_HELLO_H_
#define RAFTKV_RPC_HTTP_CLIENT_HELLO_H_

#include <cstddef>
#include <string>
#include <vector>

namespace raftkv::rpc::http {

// The most a ClientHello may take: one record header plus the largest
// plaintext record (RFC 8446 5.1).
constexpr size_t kMaxClientHelloBytes = 5 + (1 << 14);

struct ClientHello {
  enum class Result {
    kIncomplete,  // a proper prefix of a well-formed ClientHello: wait
    kComplete,    // parsed: `alpn` holds the offered protocols
    kMalformed,   // not a TLS ClientHello, or inconsistent lengths
    kTooLarge,    // spread over more than the first record
  };
  Result result = Result::kIncomplete;
  // The ALPN protocol names offered, in order; empty without the extension.
  std::vector<std::string> alpn;
};

// Parses the first `size` bytes a client sent.
ClientHello ParseClientHello(const char* data, size_t size);

}  // namespace raftkv::rpc::http

#endif  // RAFTKV_RPC_HTTP_CLIENT_HELLO_H_
