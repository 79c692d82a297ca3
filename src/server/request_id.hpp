#pragma once
// X-Request-Id: the client's own id is echoed when it is 1-128 printable
// ASCII characters; otherwise (or when absent) a random 128-bit id is made,
// as 32 lowercase hex digits.
#include <mutex>
#include <random>
#include <string>
#include <string_view>

namespace akidb::embed::server {

class RequestIds {
 public:
  RequestIds();
  // The id to use for a request that sent `given` ("" when absent).
  std::string for_request(std::string_view given);
  // A fresh random id.
  std::string generate();

 private:
  // Invariant: `random_` (not thread-safe) is advanced only under `mutex_`,
  // two draws per id, so concurrent requests never share or tear a state.
  std::mutex mutex_;
  std::mt19937_64 random_;
};

// True when a client's id may be echoed as it is.
bool acceptable_request_id(std::string_view id) noexcept;

}  // namespace akidb::embed::server
