#pragma once
// Noticing that an HTTP client has gone away while its request waits.
// cpp-httplib 0.11 does not tell a handler which socket it serves, so the
// socket is found by its two endpoints, once, and only for requests that
// wait long enough for it to matter.
#include <string>

namespace akidb::embed::server {

struct ConnectionEnds {
  std::string local_addr;
  int local_port = -1;
  std::string remote_addr;
  int remote_port = -1;
};

// The process's socket connected with exactly these endpoints, or -1.
int find_connection_socket(const ConnectionEnds& ends);

// True when the peer of a connected socket has closed it or it has failed.
bool peer_closed(int fd);

}  // namespace akidb::embed::server
