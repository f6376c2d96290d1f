// The SpiffeWorkloadAPI gRPC service: checks the required metadata,
// identifies the calling process, and answers from the identity snapshot.
#pragma once

#include <sys/socket.h>

#include <map>
#include <mutex>
#include <optional>

#include "workload.grpc.pb.h"
#include "workload_caller.h"
#include "workload_identities.h"

namespace mayfly::agent {

// The connections the agent accepted and handed to gRPC, by descriptor:
// who connected (SO_PEERCRED) and when. gRPC names such a connection's peer
// "fd:<n>", which is how a call finds its caller. Thread-safe.
class Connections {
 public:
  struct Peer {
    ucred cred{};
    unsigned long long accepted_ticks = 0;  // TicksSinceBoot() at accept
  };
  // A new connection on `fd`; replaces what a closed one of the same number left.
  void Add(int fd, const Peer& peer);
  // The connection of a call whose gRPC peer is `peer` ("fd:<n>").
  std::optional<Peer> Find(std::string_view peer) const;

 private:
  mutable std::mutex mu_;
  std::map<int, Peer> peers_;
};

class WorkloadApiService final : public SpiffeWorkloadAPI::Service {
 public:
  WorkloadApiService(const IdentityBoard& board, const Connections& connections)
      : board_(board), connections_(connections) {}

  grpc::Status FetchX509SVID(grpc::ServerContext* context, const X509SVIDRequest* request,
                             grpc::ServerWriter<X509SVIDResponse>* writer) override;
  grpc::Status FetchX509Bundles(grpc::ServerContext* context, const X509BundlesRequest* request,
                                grpc::ServerWriter<X509BundlesResponse>* writer) override;
  grpc::Status FetchJWTSVID(grpc::ServerContext* context, const JWTSVIDRequest* request,
                            JWTSVIDResponse* response) override;
  grpc::Status FetchJWTBundles(grpc::ServerContext* context, const JWTBundlesRequest* request,
                               grpc::ServerWriter<JWTBundlesResponse>* writer) override;
  grpc::Status ValidateJWTSVID(grpc::ServerContext* context, const ValidateJWTSVIDRequest* request,
                               ValidateJWTSVIDResponse* response) override;

 private:
  // The metadata check and the caller's facts; a non-OK status refuses the call.
  grpc::Status Admit(grpc::ServerContext* context, CallerFacts& caller) const;
  // Streams a message built by `build` from each new snapshot until the
  // client goes, the agent stops, or `build` refuses (its status ends the
  // stream). `build` returns an empty key when there is nothing to send yet
  // and otherwise a key that changes when the message would change.
  template <typename Message, typename Build>
  grpc::Status Stream(grpc::ServerContext* context, grpc::ServerWriter<Message>* writer, Build build) const;

  const IdentityBoard& board_;
  const Connections& connections_;
};

}  // namespace mayfly::agent
