#include "rpc/tls/cert_checks.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace raftkv::rpc::tls {
namespace {

struct Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(char* p) const { OPENSSL_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

Owned<BIO> ReadOnlyBio(const std::string& bytes) {
  return Owned<BIO>(
      BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

absl::StatusOr<Owned<X509>> ParseCert(const std::string& pem) {
  Owned<BIO> bio = ReadOnlyBio(pem);
  Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        "the peer presented no readable certificate");
  }
  return cert;
}

absl::StatusOr<Owned<X509_CRL>> ParseCrl(const std::string& bytes) {
  Owned<BIO> bio = ReadOnlyBio(bytes);
  Owned<X509_CRL> crl(
      PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (crl == nullptr) {
    bio = ReadOnlyBio(bytes);
    crl.reset(d2i_X509_CRL_bio(bio.get(), nullptr));
  }
  if (crl == nullptr) {
    return absl::InvalidArgumentError("the CRL is neither PEM nor DER");
  }
  return crl;
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  Owned<BIGNUM> bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (bn == nullptr) return "?";
  Owned<char> hex(BN_bn2hex(bn.get()));
  return hex ? std::string(hex.get()) : "?";
}

}  // namespace

absl::StatusOr<std::string> CommonName(const std::string& pem) {
  auto cert = ParseCert(pem);
  if (!cert.ok()) return cert.status();
  X509_NAME* subject = X509_get_subject_name(cert->get());
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return std::string();
  const ASN1_STRING* data =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     ASN1_STRING_length(data));
}

absl::Status CheckNotRevoked(const std::string& cert_pem,
                             const std::string& crl_bytes) {
  auto cert = ParseCert(cert_pem);
  if (!cert.ok()) return cert.status();
  auto crl = ParseCrl(crl_bytes);
  if (!crl.ok()) return crl.status();
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl->get()),
                    X509_get_issuer_name(cert->get())) != 0) {
    return absl::OkStatus();  // the CRL speaks for another CA
  }
  X509_REVOKED* revoked = nullptr;
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert->get());
  if (X509_CRL_get0_by_serial(crl->get(), &revoked,
                              const_cast<ASN1_INTEGER*>(serial)) == 1) {
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate with serial ", SerialHex(serial), " revoked"));
  }
  return absl::OkStatus();
}

absl::Status CheckAllowedCommonName(const std::string& cert_pem,
                                    const std::string& cn) {
  auto got = CommonName(cert_pem);
  if (!got.ok()) return got.status();
  if (*got != cn) {
    return absl::PermissionDeniedError(absl::StrCat(
        "CommonName authentication failed: ", *got, " is not ", cn));
  }
  return absl::OkStatus();
}

absl::Status CheckHost(const std::string& cert_pem, const std::string& host) {
  auto cert = ParseCert(cert_pem);
  if (!cert.ok()) return cert.status();
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);  // [::1]
  }
  int ok = X509_check_ip_asc(cert->get(), bare.c_str(), 0);
  if (ok == -2) {  // not an IP literal: a DNS name
    ok = X509_check_host(cert->get(), bare.data(), bare.size(), 0, nullptr);
  }
  if (ok != 1) {
    return absl::PermissionDeniedError(
        absl::StrCat("x509: certificate is not valid for ", bare));
  }
  return absl::OkStatus();
}

}  // namespace raftkv::rpc::tls
