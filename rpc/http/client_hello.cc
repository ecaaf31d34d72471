#include "rpc/http/client_hello.h"

#include <cstdint>

namespace raftkv::rpc::http {
namespace {

constexpr uint8_t kHandshakeRecord = 22;  // ContentType handshake
constexpr uint8_t kClientHelloType = 1;   // HandshakeType client_hello
constexpr uint16_t kAlpnExtension = 16;   // RFC 7301

// A bounds-checked reader over [p, end): every read fails, and stays
// failed, once it would pass the end.
class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  bool ok() const { return ok_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  uint32_t Int(int bytes) {
    uint32_t v = 0;
    if (!Need(bytes)) return 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | *p_++;
    return v;
  }
  // A sub-reader over the next `n` bytes, skipped here.
  Reader Sub(size_t n) {
    if (!Need(n)) return Reader(p_, 0, false);
    Reader r(p_, n);
    p_ += n;
    return r;
  }
  // A sub-reader over a vector with a `len_bytes`-byte length prefix.
  Reader Vector(int len_bytes) { return Sub(Int(len_bytes)); }

 private:
  Reader(const uint8_t* p, size_t n, bool ok) : p_(p), end_(p + n), ok_(ok) {}
  bool Need(size_t n) {
    if (ok_ && left() >= n) return true;
    ok_ = false;
    return false;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

// The protocol names in an ALPN extension's body, or false if malformed.
bool ParseAlpn(Reader ext, std::vector<std::string>* names) {
  Reader list = ext.Vector(2);
  if (!ext.ok() || ext.left() != 0) return false;
  while (list.ok() && list.left() > 0) {
    const size_t n = list.Int(1);
    Reader name = list.Sub(n);
    if (!list.ok() || n == 0) return false;
    std::string s;
    while (name.left() > 0) s.push_back(static_cast<char>(name.Int(1)));
    names->push_back(std::move(s));
  }
  return list.ok() && !names->empty();
}

// The ClientHello body (after the 4-byte handshake header).
ClientHello ParseBody(Reader body) {
  ClientHello hello;
  hello.result = ClientHello::Result::kMalformed;
  body.Int(2);   // legacy_version
  body.Sub(32);  // random
  Reader session = body.Vector(1);
  Reader suites = body.Vector(2);
  Reader compression = body.Vector(1);
  if (!body.ok() || session.left() > 32 || suites.left() < 2 ||
      suites.left() % 2 != 0 || compression.left() < 1) {
    return hello;
  }
  if (body.left() > 0) {
    Reader extensions = body.Vector(2);
    if (!body.ok() || body.left() != 0) return hello;
    bool seen_alpn = false;
    while (extensions.left() > 0) {
      const uint32_t type = extensions.Int(2);
      Reader ext = extensions.Vector(2);
      if (!extensions.ok()) return hello;
      if (type != kAlpnExtension) continue;
      if (seen_alpn || !ParseAlpn(ext, &hello.alpn)) return hello;
      seen_alpn = true;
    }
  }
  hello.result = ClientHello::Result::kComplete;
  return hello;
}

}  // namespace

ClientHello ParseClientHello(const char* data, size_t size) {
  ClientHello hello;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  // Every byte seen so far must fit a ClientHello record, so garbage is
  // refused as soon as it shows, not after a timeout.
  if (size >= 1 && bytes[0] != kHandshakeRecord) {
    hello.result = ClientHello::Result::kMalformed;
    return hello;
  }
  if (size >= 2 && bytes[1] != 3) {  // SSL 3.0 .. TLS 1.3 record versions
    hello.result = ClientHello::Result::kMalformed;
    return hello;
  }
  if (size >= 6 && bytes[5] != kClientHelloType) {
    hello.result = ClientHello::Result::kMalformed;
    return hello;
  }
  if (size < 9) return hello;  // record header + handshake header
  Reader in(bytes, size);
  in.Int(3);
  const size_t record = in.Int(2);
  in.Int(1);
  const size_t length = in.Int(3);
  if (record > (1 << 14) || record < 4) {
    hello.result = ClientHello::Result::kMalformed;
    return hello;
  }
  if (length + 4 > record) {
    hello.result = ClientHello::Result::kTooLarge;
    return hello;
  }
  if (in.left() < length) return hello;
  return ParseBody(in.Sub(length));
}

}  // namespace raftkv::rpc::http
