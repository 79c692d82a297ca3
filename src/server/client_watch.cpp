#include "server/client_watch.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace akidb::embed::server {
namespace {

struct Endpoint {
  std::string addr;
  int port = -1;
};

Endpoint endpoint_of(const sockaddr_storage& ss) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (ss.ss_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, &ss, sizeof in);
    inet_ntop(AF_INET, &in.sin_addr, text.data(), text.size());
    return {text.data(), ntohs(in.sin_port)};
  }
  if (ss.ss_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, &ss, sizeof in6);
    inet_ntop(AF_INET6, &in6.sin6_addr, text.data(), text.size());
    return {text.data(), ntohs(in6.sin6_port)};
  }
  return {};
}

bool matches(int fd, const ConnectionEnds& ends) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  const auto peer = endpoint_of(ss);
  if (peer.port != ends.remote_port || peer.addr != ends.remote_addr) return false;
  len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  const auto local = endpoint_of(ss);
  return local.port == ends.local_port && local.addr == ends.local_addr;
}

}  // namespace

int find_connection_socket(const ConnectionEnds& ends) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const auto name = entry.path().filename().string();
    int fd = -1;
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{}) continue;
    if (matches(fd, ends)) return fd;
  }
  return -1;
}

bool peer_closed(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  if (poll(&p, 1, 0) < 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace akidb::embed::server
