// The BIO between OpenSSL and LeanTlsStream's buffers.
#include "lean_tls_stream.h"

#include <algorithm>
#include <cstring>

namespace mayfly::net {
namespace {

LeanTlsStream* LeanStreamOf(BIO* bio) { return static_cast<LeanTlsStream*>(BIO_get_data(bio)); }

int LeanBioRead(BIO* bio, char* out, int size) {
  BIO_clear_retry_flags(bio);
  const int n = LeanStreamOf(bio)->TakeInput(out, size);
  if (n > 0) return n;
  BIO_set_retry_read(bio);  // nothing buffered: the stream reads the socket
  return -1;
}

int LeanBioWrite(BIO* bio, const char* in, int size) {
  BIO_clear_retry_flags(bio);
  LeanStreamOf(bio)->AddOutput(in, size);
  return size;
}

long LeanBioCtrl(BIO*, int cmd, long, void*) {
  // Writes are buffered until the stream sends them: a flush has nothing to do.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

// One method table for every stream, made once.
const BIO_METHOD* LeanBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mayfly lean TLS");
    if (m != nullptr) {
      BIO_meth_set_read(m, LeanBioRead);
      BIO_meth_set_write(m, LeanBioWrite);
      BIO_meth_set_ctrl(m, LeanBioCtrl);
    }
    return m;
  }();
  return method;
}

}  // namespace

LeanTlsStream::LeanTlsStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& ctx)
    : next_(std::move(socket)) {
  const BIO_METHOD* method = LeanBioMethod();
  SSL* ssl = method != nullptr ? SSL_new(ctx.native_handle()) : nullptr;
  BIO* bio = ssl != nullptr ? BIO_new(method) : nullptr;
  if (bio == nullptr) {
    SSL_free(ssl);
    return;  // native_handle() is null; every operation fails
  }
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // the SSL owns the BIO
  SSL_set_accept_state(ssl);
  ssl_.reset(ssl);
}

int LeanTlsStream::TakeInput(char* out, int size) {
  const std::size_t n = std::min(input_len_ - input_pos_, static_cast<std::size_t>(std::max(size, 0)));
  std::memcpy(out, input_.data() + input_pos_, n);
  input_pos_ += n;
  return static_cast<int>(n);
}

void LeanTlsStream::AddOutput(const char* in, int size) { output_.append(in, static_cast<std::size_t>(size)); }

void LeanTlsStream::Transferred(std::size_t n) {
  if (reading_) {
    reading_ = false;
    input_pos_ = 0;
    input_len_ = n;
    return;
  }
  output_.erase(0, n);
  if (output_.empty()) ReleaseOutput();
}

void LeanTlsStream::ReleaseOutput() { std::string().swap(output_); }

}  // namespace mayfly::net
