#include "rpc/tls/self_cert.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace raftkv::rpc::tls {
namespace {

struct Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

absl::Status OpensslError(const std::string& what) {
  char buf[256] = "unknown error";
  if (unsigned long e = ERR_get_error())
    ERR_error_string_n(e, buf, sizeof(buf));
  return absl::InternalError(
      absl::StrCat("raftkv: auto TLS: ", what, ": ", buf));
}

bool IsIp(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// "IP:127.0.0.1,DNS:localhost" for the hosts (duplicates removed).
std::string SubjectAltNames(const std::vector<std::string>& hosts) {
  std::vector<std::string> names;
  for (std::string h : hosts) {
    if (h.size() > 2 && h.front() == '[') h = h.substr(1, h.size() - 2);
    if (h.empty()) continue;
    std::string name = absl::StrCat(IsIp(h) ? "IP:" : "DNS:", h);
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  return absl::StrJoin(names, ",");
}

absl::Status AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpensslError(
        absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

absl::Status WritePem(const std::string& path, mode_t mode,
                      const std::function<int(BIO*)>& write) {
  const std::string tmp = path + ".tmp";
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raftkv: auto TLS: cannot write ", tmp, ": ", std::strerror(errno)));
  }
  Owned<BIO> bio(BIO_new_fd(fd, BIO_CLOSE));
  if (write(bio.get()) != 1 || BIO_flush(bio.get()) != 1 || fsync(fd) != 0) {
    return OpensslError(absl::StrCat("cannot write ", tmp));
  }
  bio.reset();  // closes fd
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raftkv: auto TLS: cannot rename ", tmp, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status MakeCert(const CertFiles& files,
                      const std::vector<std::string>& hosts) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpensslError("generating a P-256 key");
  Owned<X509> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) {
    return OpensslError("random serial number");
  }
  serial_bytes[0] &= 0x7f;  // positive
  Owned<BIGNUM> serial(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("raftkv"),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  if (auto s =
          AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
      !s.ok())
    return s;
  if (auto s = AddExtension(cert.get(), NID_key_usage,
                            "critical,digitalSignature,keyEncipherment");
      !s.ok()) {
    return s;
  }
  if (auto s =
          AddExtension(cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
      !s.ok())
    return s;
  const std::string sans = SubjectAltNames(hosts);
  if (!sans.empty()) {
    if (auto s = AddExtension(cert.get(), NID_subject_alt_name, sans); !s.ok())
      return s;
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return OpensslError("signing the certificate");
  }
  if (auto s = WritePem(files.key_file, 0600,
                        [&](BIO* b) {
                          return PEM_write_bio_PrivateKey(b, key.get(), nullptr,
                                                          nullptr, 0, nullptr,
                                                          nullptr);
                        });
      !s.ok()) {
    return s;
  }
  return WritePem(files.cert_file, 0644,
                  [&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
}

}  // namespace

absl::StatusOr<CertFiles> EnsureSelfCert(
    const std::string& dir, const std::vector<std::string>& hosts) {
  CertFiles files{dir + "/cert.pem", dir + "/key.pem"};
  std::error_code ec;
  if (std::filesystem::exists(files.cert_file, ec) &&
      std::filesystem::exists(files.key_file, ec)) {
    return files;
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raftkv: auto TLS: cannot create ", dir, ": ", ec.message()));
  }
  if (absl::Status s = MakeCert(files, hosts); !s.ok()) return s;
  return files;
}

}  // namespace raftkv::rpc::tls
