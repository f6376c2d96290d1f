// Starts the per-connection HTTP loop for an accepted socket (TLS, plain TCP or
// unix), already bound to its own strand.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "server_core.h"

namespace mayfly::net {

// `entry` is the connection's place in the admission table; the session
// gives it back when it ends.
void StartTlsSession(std::shared_ptr<Server::Core> core, boost::asio::ip::tcp::socket socket,
                     std::shared_ptr<ssl::context> tls, std::string peer_ip, Admission::Entry* entry);
void StartPlainSession(std::shared_ptr<Server::Core> core, boost::asio::ip::tcp::socket socket,
                       Listener kind, std::string peer_ip, Admission::Entry* entry);
void StartUnixSession(std::shared_ptr<Server::Core> core,
                      boost::asio::local::stream_protocol::socket socket);

}  // namespace mayfly::net
