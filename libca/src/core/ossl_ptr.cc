// OpenSSL error-queue helpers.
#include "mayfly/ossl_ptr.h"

#include <openssl/err.h>

namespace mayfly {

void ClearOpensslErrors() { ERR_clear_error(); }

std::string DrainOpensslErrors(std::string_view what) {
  std::string out(what);
  bool first = true;
  unsigned long err;
  while ((err = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

std::unexpected<Error> OpensslError(std::string_view what, ErrorCode code) {
  return MakeError(code, DrainOpensslErrors(what));
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

}  // namespace mayfly
